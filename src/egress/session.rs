//! One connection to the proxy, from its request head to its end: the target checked against the
//! allow-list (refused: `403`, logged), the host connected (resolved here, outside the sandbox),
//! then a CONNECT tunnel, or one plain-HTTP request forwarded in origin form and its response
//! relayed with `Connection: close`. Every connection ends as one [`Attempt`] in the log.

use std::io::Write;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::http::{self, HeadError, Target};
use super::log::Attempt;
use super::proxy::Shared;
use super::pump::{self, Stream};

/// How long a client has to send its request head.
pub(super) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// How long connecting to an allowed host may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves one accepted connection and logs it.
pub(super) fn serve(shared: &Shared, client: Stream) {
    let started = Instant::now();
    let mut attempt = Attempt::new("invalid");
    let (sent, received) = (AtomicU64::new(0), AtomicU64::new(0));
    session(shared, client, &mut attempt, (&sent, &received));
    attempt.bytes_sent = sent.load(Ordering::Relaxed);
    attempt.bytes_received = received.load(Ordering::Relaxed);
    attempt.duration_ms = started.elapsed().as_millis() as u64;
    shared.log.record(&attempt);
}

fn session(shared: &Shared, mut client: Stream, attempt: &mut Attempt, (sent, received): (&AtomicU64, &AtomicU64)) {
    let Some(_client_guard) = shared.register(&client) else { return };
    client.set_nodelay();
    let (head, early) = match http::read_request(&mut client, Instant::now() + HEAD_TIMEOUT) {
        Ok(read) => read,
        Err(error) => {
            attempt.reason = Some(error.to_string());
            if !matches!(error, HeadError::Closed | HeadError::Io(_)) {
                refuse(&mut client, 400, "Bad Request", &format!("git-dispatch proxy: {error}\n"));
            }
            return;
        }
    };
    let target = match Target::of(&head) {
        Ok(target) => target,
        Err(reason) => {
            refuse(&mut client, 400, "Bad Request", &format!("git-dispatch proxy: {reason}\n"));
            attempt.reason = Some(reason);
            return;
        }
    };
    let (host, port) = target.host_port();
    attempt.kind = if matches!(target, Target::Connect { .. }) { "connect" } else { "http" };
    attempt.host = Some(host.to_string());
    attempt.port = Some(port);
    if !shared.allow.allows(host, port) {
        attempt.reason = Some("not on the run's allow-list".to_string());
        let text = format!(
            "git-dispatch: {} is not on this run's network allow-list (ALLOW HOSTS: / --allow-host add hosts)\n",
            attempt.target()
        );
        refuse(&mut client, 403, "Forbidden", &text);
        return;
    }
    attempt.allowed = true;
    let upstream = match connect(host, port) {
        Ok(upstream) => {
            let _ = upstream.set_nodelay(true);
            Stream::Tcp(upstream)
        }
        Err(reason) => {
            refuse(
                &mut client,
                502,
                "Bad Gateway",
                &format!("git-dispatch proxy: cannot reach {}: {reason}\n", attempt.target()),
            );
            attempt.reason = Some(reason);
            return;
        }
    };
    let Some(_upstream_guard) = shared.register(&upstream) else { return };
    let _ = client.set_read_timeout(None);
    let outcome = match target {
        Target::Connect { .. } => open_tunnel(client, upstream, &early, (sent, received)),
        Target::Http { ref path, .. } => {
            let request = http::origin_request(&head, host, port, path);
            forward(client, upstream, [request, early].concat(), (sent, received))
        }
    };
    if let Err(error) = outcome {
        attempt.reason = Some(format!("relaying: {error}"));
    }
}

/// Writes one of the proxy's own responses and closes the client's side.
fn refuse(client: &mut Stream, code: u16, reason: &str, text: &str) {
    let _ = client.set_write_timeout(Some(Duration::from_secs(2)));
    let _ = client.write_all(&http::own_response(code, reason, text));
    client.shutdown(Shutdown::Both);
}

/// Connects to `host:port`, trying each address it resolves to.
fn connect(host: &str, port: u16) -> Result<TcpStream, String> {
    let addresses = (host, port).to_socket_addrs().map_err(|error| format!("resolving {host}: {error}"))?;
    let mut last = format!("{host} has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(error) => last = format!("connecting to {address}: {error}"),
        }
    }
    Err(last)
}

/// `200 Connection established`, the bytes the client sent early, then both ways.
fn open_tunnel(
    mut client: Stream,
    mut upstream: Stream,
    early: &[u8],
    (sent, received): (&AtomicU64, &AtomicU64),
) -> std::io::Result<()> {
    client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")?;
    if !early.is_empty() {
        upstream.write_all(early)?;
        sent.fetch_add(early.len() as u64, Ordering::Relaxed);
    }
    pump::tunnel(client, upstream, sent, received)
}

/// One forwarded request: its rewritten head (and early body bytes) to the host, the rest of the
/// client's bytes after it; the response's head rewritten to close, its body as it comes.
fn forward(
    client: Stream,
    mut upstream: Stream,
    request: Vec<u8>,
    (sent, received): (&AtomicU64, &AtomicU64),
) -> std::io::Result<()> {
    upstream.write_all(&request)?;
    sent.fetch_add(request.len() as u64, Ordering::Relaxed);
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    let (mut client_write, mut upstream_read) = (client, upstream);
    std::thread::scope(|scope| {
        let requests = std::thread::Builder::new()
            .name("egress-pump".into())
            .stack_size(pump::THREAD_STACK)
            .spawn_scoped(scope, || pump::pump(&mut client_read, &mut upstream_write, sent));
        if requests.is_err() {
            client_write.shutdown(Shutdown::Both);
            upstream_read.shutdown(Shutdown::Both);
            return;
        }
        relay_response(&mut upstream_read, &mut client_write, received);
    });
    Ok(())
}

/// The response: interim (`1xx`) heads as they are, the final head with `Connection: close`, then
/// everything up to the host's end of the stream (a `101` switches to a tunnel the same way).
fn relay_response(upstream: &mut Stream, client: &mut Stream, received: &AtomicU64) {
    loop {
        let (head, rest) = match http::read_response(upstream) {
            Ok(read) => read,
            Err(_) => {
                client.shutdown(Shutdown::Both);
                upstream.shutdown(Shutdown::Both);
                return;
            }
        };
        let interim = (100..200).contains(&head.code) && head.code != 101;
        let bytes = [http::closing_response(&head), rest].concat();
        if client.write_all(&bytes).is_err() {
            upstream.shutdown(Shutdown::Both);
            return;
        }
        received.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        if !interim {
            break;
        }
    }
    pump::pump(upstream, client, received);
}
