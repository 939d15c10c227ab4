//! The forwarder inside a bubblewrap sandbox with its own network namespace (only loopback): the
//! git-dispatch binary re-executed as a hidden stage, `git-dispatch __net-forward --socket PATH
//! --port N -- PROGRAM ARGS...`. It listens on `127.0.0.1:N` (where the agent's `HTTPS_PROXY`
//! points), carries each connection to the proxy's unix socket (bound into the sandbox), and runs
//! the program as its child, ending as the program ended. It is only a pipe: the proxy outside
//! decides what is allowed.

use std::ffi::OsString;
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Condvar, Mutex};

use anyhow::Context as _;

use super::pump::{self, Stream, THREAD_STACK};

/// The hidden subcommand of the forwarder.
pub const FORWARD: &str = "__net-forward";

/// Connections carried at once at most; more wait in the kernel's queue until one ends.
const MAX_FORWARDED: usize = 512;

/// Descriptors one carried connection holds: the client, the unix socket, and a clone of each
/// for the pump's second direction.
const FDS_PER_CONNECTION: u64 = 4;

/// Descriptors kept for everything else (standard streams, the listener, the program's).
const FDS_RESERVED: u64 = 64;

/// Connections carried at once: [`MAX_FORWARDED`], or fewer where the open-files limit could not
/// hold that many (a plain user's soft limit is often 1024). Over it a connection waits its turn
/// in the kernel's queue; without it, one that found no descriptor was reset (seen after a flood:
/// the agent's own request after it was refused).
fn carried_at_once() -> usize {
    use nix::sys::resource::{getrlimit, Resource};
    let soft = getrlimit(Resource::RLIMIT_NOFILE).map_or(1024, |(soft, _)| soft);
    let fit = soft.saturating_sub(FDS_RESERVED) / FDS_PER_CONNECTION;
    usize::try_from(fit).unwrap_or(MAX_FORWARDED).clamp(1, MAX_FORWARDED)
}

/// The argv prefix that starts a program behind the forwarder (the program and its arguments
/// follow).
pub fn forwarder_argv(socket: &Path, port: u16) -> anyhow::Result<Vec<OsString>> {
    let exe = std::env::current_exe().context("finding the git-dispatch binary (the network forwarder)")?;
    Ok(vec![
        exe.into_os_string(),
        FORWARD.into(),
        "--socket".into(),
        socket.as_os_str().to_os_string(),
        "--port".into(),
        port.to_string().into(),
        "--".into(),
    ])
}

/// `--socket PATH --port N -- PROGRAM ARGS...`
fn parse(args: &[OsString]) -> anyhow::Result<(PathBuf, u16, Vec<OsString>)> {
    let (mut socket, mut port) = (None, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.to_str() {
            Some("--socket") => socket = rest.next().map(PathBuf::from),
            Some("--port") => port = rest.next().and_then(|value| value.to_str()?.parse::<u16>().ok()),
            Some("--") => break,
            _ => anyhow::bail!("unexpected argument {arg:?}"),
        }
    }
    let argv: Vec<OsString> = rest.cloned().collect();
    anyhow::ensure!(!argv.is_empty(), "no program to start");
    Ok((socket.context("--socket is missing")?, port.context("--port is missing")?, argv))
}

/// Runs the forwarder stage; the exit code to end with (the program's).
pub fn run_forwarder(args: &[OsString]) -> anyhow::Result<i32> {
    let (socket, port, argv) = parse(args)?;
    let listener = TcpListener::bind(("127.0.0.1", port)).with_context(|| format!("listening on 127.0.0.1:{port}"))?;
    super::proxy::deepen_backlog(&listener);
    std::thread::Builder::new()
        .name("net-forward".into())
        .spawn(move || accept_loop(&listener, &socket))
        .context("starting the forwarder's thread")?;
    crate::process::run_relayed(&argv)
}

/// Connections being carried, and its change signalled.
type Active = Arc<(Mutex<usize>, Condvar)>;

/// One connection's place among [`carried_at_once`]; given back on drop.
struct Slot(Active);

impl Slot {
    /// Waits until fewer than `limit` places are taken.
    fn take(active: &Active, limit: usize) -> Option<Slot> {
        let (count, changed) = &**active;
        let mut count = count.lock().ok()?;
        while *count >= limit {
            count = changed.wait(count).ok()?;
        }
        *count += 1;
        Some(Slot(Arc::clone(active)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (count, changed) = &*self.0;
        if let Ok(mut count) = count.lock() {
            *count -= 1;
            changed.notify_all();
        }
    }
}

fn accept_loop(listener: &TcpListener, socket: &Path) {
    let active: Active = Arc::new((Mutex::new(0), Condvar::new()));
    let limit = carried_at_once();
    while let Some(slot) = Slot::take(&active, limit) {
        let Ok((client, _)) = listener.accept() else {
            drop(slot);
            std::thread::sleep(std::time::Duration::from_millis(20)); // out of descriptors: let some end
            continue;
        };
        let _ = client.set_nodelay(true);
        let socket = socket.to_path_buf();
        // A failed spawn drops the closure, and with it the slot and the client.
        let _ = std::thread::Builder::new().stack_size(THREAD_STACK).spawn(move || {
            if let Ok(proxy) = UnixStream::connect(&socket) {
                let counters = (AtomicU64::new(0), AtomicU64::new(0));
                let _ = pump::tunnel(Stream::Tcp(client), Stream::Unix(proxy), &counters.0, &counters.1);
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_the_socket_the_port_and_the_program() {
        let args: Vec<OsString> =
            ["--socket", "/s", "--port", "3128", "--", "prog", "--port"].iter().map(OsString::from).collect();
        let (socket, port, argv) = parse(&args).expect("parse");
        assert_eq!((socket, port), (PathBuf::from("/s"), 3128));
        assert_eq!(argv, [OsString::from("prog"), OsString::from("--port")]);
        assert!(parse(&[OsString::from("--port"), OsString::from("x"), OsString::from("--"), "p".into()]).is_err());
        assert!(parse(&["--socket".into(), "/s".into(), "--port".into(), "1".into(), "--".into()]).is_err());
    }
}
