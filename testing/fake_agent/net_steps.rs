//! The `net` step: one network attempt, reported as a message event
//! `net <probe> <target>: ok (<detail>)` or `net <probe> <target>: failed (<error>)`, so a test
//! reads from events.jsonl what the agent could reach. "The proxy" is the `HTTP_PROXY` (for
//! `http`) or `HTTPS_PROXY` (for `connect` and the abuse probes) in the agent's environment.
//!
//! | probe | fields | does |
//! |---|---|---|
//! | `tcp` | `host`, `port` | a direct TCP connection, then `GET /` on it |
//! | `udp` | `host`, `port` | one datagram sent directly |
//! | `dns` | `name`, `host`?, `port`? | a DNS query for `name`: raw over UDP to `host:port`, else the system resolver |
//! | `http` | `host`, `port` | `GET http://host:port/`, through `HTTP_PROXY` when set, else direct |
//! | `connect` | `host`, `port` | `CONNECT host:port` through `HTTPS_PROXY`, then `GET /` in the tunnel |
//! | `garbage` | | bytes that are no HTTP to the proxy; the reply's status line |
//! | `half_open` | | a partial CONNECT head to the proxy, held open until the agent exits |
//! | `flood` | `count`, `at_once`=500 | `count` connections to the proxy, `at_once` held open at a time |

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

/// How long one attempt may take. Refusals come at once (a 403 from the proxy, a refused or
/// unreachable connection, Landlock's EACCES); only an allowed request waits, and after a flood
/// it waits behind the thousands of dead connections the proxy is still draining, which takes
/// more than 5 s on a loaded machine (as an agent CLI would, it waits rather than gives up).
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    Tcp,
    Udp,
    Dns,
    Http,
    Connect,
    Garbage,
    HalfOpen,
    Flood,
}

/// The fields of a `net` step.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetArgs {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub name: Option<String>,
    pub count: Option<u32>,
    pub at_once: Option<u32>,
}

/// Runs one probe; the message text to emit. Connections `half_open` keeps go to `held`.
pub fn run(probe: Probe, args: &NetArgs, held: &mut Vec<TcpStream>) -> String {
    let target = match (&args.host, args.port) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        _ => args.name.clone().unwrap_or_else(|| "proxy".to_string()),
    };
    let name = format!("{probe:?}").to_ascii_lowercase();
    match attempt(probe, args, held) {
        Ok(detail) => format!("net {name} {target}: ok ({detail})"),
        Err(error) => format!("net {name} {target}: failed ({error:#})"),
    }
}

fn attempt(probe: Probe, args: &NetArgs, held: &mut Vec<TcpStream>) -> Result<String> {
    let target =
        || -> Result<(String, u16)> { Ok((args.host.clone().context("no host")?, args.port.context("no port")?)) };
    match probe {
        Probe::Tcp => {
            let (host, port) = target()?;
            let stream = connect(&format!("{host}:{port}"))?;
            get(stream, "/")
        }
        Probe::Udp => {
            let (host, port) = target()?;
            let socket = UdpSocket::bind("0.0.0.0:0").context("udp socket")?;
            let sent = socket.send_to(b"fake-agent datagram", (host.as_str(), port)).context("sendto")?;
            Ok(format!("{sent} bytes sent"))
        }
        Probe::Dns => dns(args),
        Probe::Http => {
            let (host, port) = target()?;
            match proxy("HTTP_PROXY") {
                Some(proxy) => get(connect(&proxy)?, &format!("http://{host}:{port}/")),
                None => get(connect(&format!("{host}:{port}"))?, "/"),
            }
        }
        Probe::Connect => {
            let (host, port) = target()?;
            let mut stream = connect(&proxy("HTTPS_PROXY").context("no HTTPS_PROXY")?)?;
            write!(stream, "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n")?;
            let head = read_head(&mut stream)?;
            if !head.starts_with("HTTP/1.1 200") {
                bail!("the proxy answered {}", head.lines().next().unwrap_or_default());
            }
            get(stream, "/")
        }
        Probe::Garbage => {
            let mut stream = connect(&proxy("HTTPS_PROXY").context("no HTTPS_PROXY")?)?;
            stream.write_all(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")?;
            let head = read_head(&mut stream)?;
            Ok(head.lines().next().unwrap_or_default().to_string())
        }
        Probe::HalfOpen => {
            let mut stream = connect(&proxy("HTTPS_PROXY").context("no HTTPS_PROXY")?)?;
            stream.write_all(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0")?;
            held.push(stream);
            Ok("held open".to_string())
        }
        Probe::Flood => flood(args.count.unwrap_or(1000), args.at_once.unwrap_or(500)),
    }
}

/// `host:port` of the proxy variable `name` (`http://127.0.0.1:3128`).
fn proxy(name: &str) -> Option<String> {
    let value = std::env::var(name).ok().filter(|value| !value.is_empty())?;
    let rest = value.split_once("://").map_or(value.as_str(), |(_, rest)| rest);
    Some(rest.trim_end_matches('/').to_string())
}

fn connect(address: &str) -> Result<TcpStream> {
    let mut last = None;
    for resolved in address.to_socket_addrs().with_context(|| format!("resolving {address}"))? {
        match TcpStream::connect_timeout(&resolved, TIMEOUT) {
            Ok(stream) => {
                stream.set_read_timeout(Some(TIMEOUT))?;
                return Ok(stream);
            }
            Err(error) => last = Some(error),
        }
    }
    Err(last.map_or_else(
        || anyhow::anyhow!("{address} has no address"),
        |e| anyhow::anyhow!("connecting to {address}: {e}"),
    ))
}

/// `GET target` on `stream`; the status line, or an error when it is not 200.
fn get(mut stream: TcpStream, target: &str) -> Result<String> {
    write!(stream, "GET {target} HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).context("reading the response")?;
    let text = String::from_utf8_lossy(&response);
    let status = text.lines().next().unwrap_or_default().to_string();
    if !status.contains(" 200 ") {
        bail!("answered {status:?}");
    }
    Ok(status)
}

/// Reads up to the end of a response head.
fn read_head(stream: &mut TcpStream) -> Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte).context("reading the proxy's answer")? {
            0 => break,
            _ => head.push(byte[0]),
        }
    }
    if head.is_empty() {
        bail!("the proxy closed the connection");
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

fn dns(args: &NetArgs) -> Result<String> {
    let name = args.name.clone().context("no name")?;
    let (Some(host), Some(port)) = (&args.host, args.port) else {
        let found: Vec<_> = (name.as_str(), 80).to_socket_addrs().context("lookup")?.collect();
        return Ok(format!("{} addresses", found.len()));
    };
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.') {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 1, 0, 1]);
    let socket = UdpSocket::bind("0.0.0.0:0").context("udp socket")?;
    socket.set_read_timeout(Some(Duration::from_secs(2)))?;
    socket.send_to(&query, (host.as_str(), port)).context("sendto")?;
    let mut answer = [0u8; 512];
    let (read, _) = socket.recv_from(&mut answer).context("no answer")?;
    Ok(format!("{read} bytes answered"))
}

/// `count` connections to the proxy, `at_once` open at a time (each sends a byte, then all of a
/// wave close).
fn flood(count: u32, at_once: u32) -> Result<String> {
    let proxy = proxy("HTTPS_PROXY").context("no HTTPS_PROXY")?;
    let (mut opened, mut failed) = (0u32, 0u32);
    while opened + failed < count {
        let wave = at_once.min(count - opened - failed);
        let mut open = Vec::new();
        for _ in 0..wave {
            match TcpStream::connect(proxy.as_str()) {
                Ok(mut stream) => {
                    let _ = stream.write_all(b"C");
                    open.push(stream);
                    opened += 1;
                }
                Err(_) => failed += 1,
            }
        }
        drop(open);
    }
    Ok(format!("{opened} opened, {failed} failed"))
}
