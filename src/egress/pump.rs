//! Byte pumps between two sockets (TCP or unix), on std threads: a tunnel copies both ways until
//! both sides are done, counting the bytes of each direction. When one side ends its writing, the
//! other's write side is shut (a half-close passes through); an error on either tears both down.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Stack of a pump thread: they only copy through a small buffer.
pub(super) const THREAD_STACK: usize = 128 * 1024;

/// The copy buffer of one direction.
const BUFFER: usize = 16 * 1024;

/// A connected socket of either family.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(stream) => Stream::Tcp(stream.try_clone()?),
            Stream::Unix(stream) => Stream::Unix(stream.try_clone()?),
        })
    }

    pub fn shutdown(&self, how: Shutdown) {
        let _ = match self {
            Stream::Tcp(stream) => stream.shutdown(how),
            Stream::Unix(stream) => stream.shutdown(how),
        };
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    /// No Nagle delay on a TCP socket: the proxy relays small writes (heads, stream events) at once.
    pub fn set_nodelay(&self) {
        if let Stream::Tcp(stream) = self {
            let _ = stream.set_nodelay(true);
        }
    }

    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_write_timeout(timeout),
            Stream::Unix(stream) => stream.set_write_timeout(timeout),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buf),
            Stream::Unix(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.write(buf),
            Stream::Unix(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies `from` into `to` until `from` ends, adding to `counter`; then shuts `to`'s write side.
/// On an error both sockets are shut down whole (the other direction ends too).
pub(super) fn pump(from: &mut Stream, to: &mut Stream, counter: &AtomicU64) {
    let mut buffer = vec![0u8; BUFFER];
    loop {
        match from.read(&mut buffer) {
            Ok(0) => {
                to.shutdown(Shutdown::Write);
                return;
            }
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    break;
                }
                counter.fetch_add(read as u64, Ordering::Relaxed);
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    from.shutdown(Shutdown::Both);
    to.shutdown(Shutdown::Both);
}

/// Both directions between `a` and `b` until both are done: `a` to `b` on this thread (counted
/// in `a_to_b`), `b` to `a` on another (`b_to_a`).
pub(super) fn tunnel(a: Stream, b: Stream, a_to_b: &AtomicU64, b_to_a: &AtomicU64) -> io::Result<()> {
    let (mut a_read, mut b_write) = (a, b);
    let (mut b_read, mut a_write) = (b_write.try_clone()?, a_read.try_clone()?);
    std::thread::scope(|scope| {
        let back = std::thread::Builder::new()
            .name("egress-pump".into())
            .stack_size(THREAD_STACK)
            .spawn_scoped(scope, || pump(&mut b_read, &mut a_write, b_to_a));
        if back.is_err() {
            a_read.shutdown(Shutdown::Both);
            b_write.shutdown(Shutdown::Both);
            return;
        }
        pump(&mut a_read, &mut b_write, a_to_b);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tunnel_copies_both_ways_and_passes_a_half_close_through() {
        let (client, proxy_side) = UnixStream::pair().expect("pair");
        let (upstream_side, server) = UnixStream::pair().expect("pair");
        let (up, down) = (AtomicU64::new(0), AtomicU64::new(0));
        std::thread::scope(|scope| {
            scope.spawn(|| tunnel(Stream::Unix(proxy_side), Stream::Unix(upstream_side), &up, &down).expect("tunnel"));
            let mut client = client;
            let mut server = server;
            client.write_all(b"hello").expect("write");
            client.shutdown(Shutdown::Write).expect("half-close");
            let mut got = String::new();
            server.read_to_string(&mut got).expect("server reads to the end");
            assert_eq!(got, "hello");
            server.write_all(b"world!").expect("reply");
            drop(server);
            let mut reply = String::new();
            client.read_to_string(&mut reply).expect("client reads the reply");
            assert_eq!(reply, "world!");
        });
        assert_eq!((up.load(Ordering::Relaxed), down.load(Ordering::Relaxed)), (5, 6));
    }
}
