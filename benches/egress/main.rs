//! The egress benchmark (issue 15): the latency the proxy adds to one small request, and what
//! `--network api` adds to a whole dispatch over `--network allow`. Not part of `cargo test`;
//! `scripts/bench-egress` runs it and writes its section of BENCH-dispatch.md.
//!
//!   cargo bench --bench egress -- [--requests N] [--reps N]
//!
//! Latency: N (1000) requests, each on a new connection as the scripted model servers close every
//! response, to a server on 127.0.0.1 answering 200 with a small body: direct; forwarded as plain
//! HTTP by the proxy on 127.0.0.1 (the Landlock path); through a CONNECT tunnel of that proxy; and
//! through the forwarder stage (`git-dispatch __net-forward`) to the proxy's unix socket (the
//! bubblewrap path, without the namespace). Whole dispatch: see `dispatch.rs`.

mod dispatch;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::time::{Duration, Instant};

use git_dispatch::egress::{AllowList, HostRule, NetLog, Proxy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        args.iter().position(|arg| arg == name).and_then(|at| args.get(at + 1)?.parse().ok()).unwrap_or(default)
    };
    let requests = value("--requests", 1000);
    let reps = value("--reps", 15);
    println!("{}", latency(requests));
    println!("{}", dispatch::overhead(reps));
}

/// A server answering every request `200` with a 13-byte body, closing the connection.
fn server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    port
}

fn answer(mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(read) => head.extend_from_slice(&buffer[..read]),
        }
    }
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"ok\": true}\n");
}

/// One request on a new connection to `connect_to`: optionally a CONNECT first, then `GET target`,
/// read to the end. Its duration.
fn request(connect_to: u16, tunnel_to: Option<u16>, target: &str) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", connect_to)).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    if let Some(port) = tunnel_to {
        write!(stream, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\n").expect("write");
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).expect("the proxy's answer");
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));
    }
    write!(stream, "GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("write");
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).expect("read");
    assert!(reply.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&reply));
    started.elapsed()
}

/// p50 and p99 of `samples` in microseconds.
fn percentiles(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.99))
}

fn measure(requests: usize, one: impl Fn() -> Duration) -> (f64, f64) {
    for _ in 0..requests / 10 {
        one(); // warm-up
    }
    let mut samples: Vec<Duration> = (0..requests).map(|_| one()).collect();
    percentiles(&mut samples)
}

/// The forwarder stage on a free port of this machine, carrying to `socket`; its port.
fn forwarder(socket: &std::path::Path) -> (std::process::Child, u16) {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_git-dispatch"))
        .args(["__net-forward", "--socket"])
        .arg(socket)
        .args(["--port", &port.to_string(), "--", "sleep", "600"])
        .process_group(0)
        .spawn()
        .expect("the forwarder starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the forwarder does not listen");
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, port)
}

fn latency(requests: usize) -> String {
    let upstream = server();
    let allow = || AllowList::new([HostRule::parse(&format!("127.0.0.1:{upstream}")).expect("rule")]);
    let tcp_proxy = Proxy::on_loopback(allow(), NetLog::counting()).expect("proxy");
    let git_dispatch::egress::Address::Tcp(address) = tcp_proxy.address().clone() else { unreachable!() };
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("proxy.sock");
    let _unix_proxy = Proxy::on_unix_socket(&socket, allow(), NetLog::counting()).expect("proxy");
    let (mut child, forward_port) = forwarder(&socket);
    let absolute = format!("http://127.0.0.1:{upstream}/v1/responses");
    let rows = [
        ("direct (no proxy)", measure(requests, || request(upstream, None, "/v1/responses"))),
        ("proxy on 127.0.0.1, plain HTTP (Landlock)", measure(requests, || request(address.port(), None, &absolute))),
        (
            "proxy on 127.0.0.1, CONNECT tunnel (Landlock)",
            measure(requests, || request(address.port(), Some(upstream), "/")),
        ),
        ("forwarder + unix socket, plain HTTP (bwrap)", measure(requests, || request(forward_port, None, &absolute))),
        (
            "forwarder + unix socket, CONNECT tunnel (bwrap)",
            measure(requests, || request(forward_port, Some(upstream), "/")),
        ),
    ];
    // The forwarder and the `sleep` it started (which holds this benchmark's stdout) end together.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL);
    let _ = child.wait();
    let (base50, base99) = rows[0].1;
    let mut out = format!(
        "Latency per request, {requests} requests each on a new connection (after {} warm-up ones), \
         microseconds:\n\n| path | p50 | p99 | added p50 | added p99 |\n|---|---:|---:|---:|---:|\n",
        requests / 10
    );
    for (name, (p50, p99)) in rows {
        out.push_str(&format!("| {name} | {p50:.0} | {p99:.0} | {:.0} | {:.0} |\n", p50 - base50, p99 - base99));
    }
    out
}
