//! The egress proxy of one run: a listener (a unix socket bound into a bubblewrap sandbox, or
//! TCP on 127.0.0.1 for Landlock) accepted on a thread of its own, one thread per connection (see
//! `session.rs`), at most [`MAX_CONNECTIONS`] at once. At the limit the accept thread waits for a
//! free slot (new connections queue in the kernel), up to [`SLOT_WAIT`]; then the connection is
//! answered `503` and logged as `over-limit`. So a flood costs git-dispatch neither threads nor
//! descriptors, and the agent's own requests after it get through. A client that sends no
//! complete head within 10 s is dropped. [`Proxy::stop`] (also on drop)
//! stops accepting, shuts every open connection down, waits briefly for their threads, removes the
//! socket, and returns the counts.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::hosts::AllowList;
use super::http;
use super::log::{Attempt, Counts, NetLog};
use super::pump::{Stream, THREAD_STACK};
use super::session;

/// Connections served at once; more are refused (`over-limit`).
pub const MAX_CONNECTIONS: usize = 128;

/// How long a connection over the limit waits for a free slot before it is refused. Long enough
/// that the agent's own request after a flood waits its turn rather than being refused while the
/// flood's dead connections drain (2 s refused it on a loaded machine); the flood costs nothing
/// meanwhile (its connections wait in the kernel's queue). The unit tests wait 1 s.
pub const SLOT_WAIT: Duration = Duration::from_secs(if cfg!(test) { 1 } else { 10 });

/// How long [`Proxy::stop`] waits for the connections' threads after shutting their sockets.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// Where the proxy listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Unix(PathBuf),
    Tcp(SocketAddr),
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Listener {
    fn accept(&self) -> std::io::Result<Stream> {
        match self {
            Listener::Unix(listener) => listener.accept().map(|(stream, _)| Stream::Unix(stream)),
            Listener::Tcp(listener) => listener.accept().map(|(stream, _)| Stream::Tcp(stream)),
        }
    }
}

/// What every connection's thread shares.
pub(super) struct Shared {
    pub(super) allow: AllowList,
    pub(super) log: NetLog,
    stopping: AtomicBool,
    /// Open sockets by registration id, shut down on stop.
    open: Mutex<HashMap<u64, Stream>>,
    next_id: AtomicU64,
    /// Connections being served, and its change signalled.
    active: (Mutex<usize>, Condvar),
}

/// Removes a registered socket when the connection's stage ends.
pub(super) struct Registered<'a> {
    shared: &'a Shared,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut open) = self.shared.open.lock() {
            open.remove(&self.id);
        }
    }
}

impl Shared {
    /// Keeps a handle on `stream` so that [`Proxy::stop`] can shut it down; `None` when the proxy
    /// is already stopping (the caller gives up).
    pub(super) fn register(&self, stream: &Stream) -> Option<Registered<'_>> {
        let clone = stream.try_clone().ok()?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut open = self.open.lock().ok()?;
        if self.stopping.load(Ordering::SeqCst) {
            return None;
        }
        open.insert(id, clone);
        Some(Registered { shared: self, id })
    }

    fn change_active(&self, delta: isize) {
        let (count, changed) = &self.active;
        if let Ok(mut count) = count.lock() {
            *count = count.saturating_add_signed(delta);
            changed.notify_all();
        }
    }
}

/// A running proxy; stopped on drop.
pub struct Proxy {
    shared: Arc<Shared>,
    address: Address,
    accept: Option<JoinHandle<()>>,
    counts: Option<Counts>,
}

impl Proxy {
    /// A proxy on a new unix socket at `path` (its folder must exist).
    pub fn on_unix_socket(path: &Path, allow: AllowList, log: NetLog) -> anyhow::Result<Proxy> {
        let listener =
            UnixListener::bind(path).with_context(|| format!("binding the proxy's socket {}", path.display()))?;
        deepen_backlog(&listener);
        Proxy::start(Listener::Unix(listener), Address::Unix(path.to_path_buf()), allow, log)
    }

    /// A proxy on 127.0.0.1, on a port the kernel picks.
    pub fn on_loopback(allow: AllowList, log: NetLog) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding the proxy on 127.0.0.1")?;
        let address = listener.local_addr().context("the proxy's address")?;
        deepen_backlog(&listener);
        Proxy::start(Listener::Tcp(listener), Address::Tcp(address), allow, log)
    }

    fn start(listener: Listener, address: Address, allow: AllowList, log: NetLog) -> anyhow::Result<Proxy> {
        let shared = Arc::new(Shared {
            allow,
            log,
            stopping: AtomicBool::new(false),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            active: (Mutex::new(0), Condvar::new()),
        });
        let accepting = Arc::clone(&shared);
        let accept = std::thread::Builder::new()
            .name("egress-accept".into())
            .spawn(move || accept_loop(&listener, &accepting))
            .context("starting the proxy's thread")?;
        Ok(Proxy { shared, address, accept: Some(accept), counts: None })
    }

    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The allowed hosts, as recorded.
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.shared.allow.hosts()
    }

    /// Stops the proxy (once) and returns what it counted.
    pub fn stop(&mut self) -> Counts {
        if let Some(counts) = &self.counts {
            return counts.clone();
        }
        self.shared.stopping.store(true, Ordering::SeqCst);
        let _ = match &self.address {
            Address::Unix(path) => UnixStream::connect(path).map(drop),
            Address::Tcp(address) => TcpStream::connect_timeout(address, Duration::from_secs(1)).map(drop),
        };
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        if let Ok(open) = self.shared.open.lock() {
            open.values().for_each(|stream| stream.shutdown(Shutdown::Both));
        }
        let (count, changed) = &self.shared.active;
        if let Ok(count) = count.lock() {
            let _ = changed.wait_timeout_while(count, STOP_WAIT, |count| *count > 0);
        }
        if let Address::Unix(path) = &self.address {
            let _ = std::fs::remove_file(path);
        }
        let counts = self.shared.log.finish();
        self.counts = Some(counts.clone());
        counts
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connections the kernel queues while every slot is taken (std listens with 128).
const BACKLOG: i32 = 4096;

/// Listens again with a deeper queue (the kernel caps it at `somaxconn`); as it was on failure.
pub(super) fn deepen_backlog(listener: &impl std::os::fd::AsFd) {
    if let Ok(backlog) = nix::sys::socket::Backlog::new(BACKLOG) {
        let _ = nix::sys::socket::listen(listener, backlog);
    }
}

fn accept_loop(listener: &Listener, shared: &Arc<Shared>) {
    loop {
        let accepted = listener.accept();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let client = match accepted {
            Ok(client) => client,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => {
                // Out of descriptors (a flood): let connections end, then go on.
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
        };
        if !wait_for_slot(shared) {
            if shared.stopping.load(Ordering::SeqCst) {
                return;
            }
            over_limit(shared, client, "more than the proxy serves at once");
            continue;
        }
        shared.change_active(1);
        let serving = Arc::clone(shared);
        let spawned =
            std::thread::Builder::new().name("egress-conn".into()).stack_size(THREAD_STACK).spawn(move || {
                session::serve(&serving, client);
                serving.change_active(-1);
            });
        if spawned.is_err() {
            shared.change_active(-1);
            shared.log.record(&Attempt { reason: Some("no thread to serve it".into()), ..Attempt::new("over-limit") });
        }
    }
}

/// Waits until fewer than [`MAX_CONNECTIONS`] are served (true), or [`SLOT_WAIT`] passed or the
/// proxy stops (false).
fn wait_for_slot(shared: &Shared) -> bool {
    let deadline = Instant::now() + SLOT_WAIT;
    let (count, changed) = &shared.active;
    let Ok(mut count) = count.lock() else { return false };
    while *count >= MAX_CONNECTIONS {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let Ok((next, _)) = changed.wait_timeout(count, left.min(Duration::from_millis(100))) else { return false };
        count = next;
    }
    true
}

/// Answers `503` at once (without waiting for the client) and logs the refusal.
fn over_limit(shared: &Shared, mut client: Stream, reason: &str) {
    let started = Instant::now();
    let _ = client.set_write_timeout(Some(Duration::from_millis(100)));
    let _ =
        client.write_all(&http::own_response(503, "Service Unavailable", "git-dispatch proxy: too many connections\n"));
    client.shutdown(Shutdown::Both);
    let attempt = Attempt {
        reason: Some(format!("{reason} ({MAX_CONNECTIONS})")),
        duration_ms: started.elapsed().as_millis() as u64,
        ..Attempt::new("over-limit")
    };
    shared.log.record(&attempt);
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
