//! The proxy on its own, with clients and a server of the test on 127.0.0.1.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use super::*;
use crate::egress::HostRule;

/// A server answering `200` with the request head it got as the body; its port.
fn echo_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
                head.push(byte[0]);
            }
            let reply = format!("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: {}\r\n\r\n", head.len());
            let _ = stream.write_all(reply.as_bytes());
            let _ = stream.write_all(&head);
        }
    });
    port
}

fn proxy_for(port: u16) -> Proxy {
    let allow = AllowList::new([HostRule::parse(&format!("127.0.0.1:{port}")).expect("rule")]);
    Proxy::on_loopback(allow, NetLog::counting()).expect("proxy")
}

fn client(proxy: &Proxy) -> TcpStream {
    let Address::Tcp(address) = proxy.address() else { panic!("a TCP proxy") };
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    stream
}

fn exchange(proxy: &Proxy, request: &[u8]) -> String {
    let mut stream = client(proxy);
    stream.write_all(request).expect("write");
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply).into_owned()
}

#[test]
fn allowed_requests_pass_and_the_rest_is_refused_and_counted() {
    let port = echo_server();
    let mut proxy = proxy_for(port);
    let forwarded = exchange(
        &proxy,
        format!("GET http://127.0.0.1:{port}/v1/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nProxy-Connection: keep-alive\r\n\r\n")
            .as_bytes(),
    );
    assert!(forwarded.starts_with("HTTP/1.1 200 OK\r\nContent-Length: "), "{forwarded}");
    assert!(forwarded.contains("\r\nConnection: close\r\n\r\nGET /v1/x?y=1 HTTP/1.1\r\n"), "{forwarded}");
    assert!(!forwarded.contains("Proxy-Connection") && !forwarded.contains("Keep-Alive"), "{forwarded}");

    let mut tunnel = client(&proxy);
    write!(tunnel, "CONNECT 127.0.0.1:{port} HTTP/1.1\r\n\r\nGET /in-tunnel HTTP/1.1\r\n\r\n").expect("write");
    let mut reply = Vec::new();
    let _ = tunnel.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 200 Connection established\r\n\r\nHTTP/1.1 200 OK"), "{reply}");
    assert!(reply.ends_with("GET /in-tunnel HTTP/1.1\r\n\r\n"), "the early bytes went through: {reply}");

    let refused = exchange(&proxy, format!("CONNECT 127.0.0.1:{} HTTP/1.1\r\n\r\n", port + 1).as_bytes());
    assert!(refused.starts_with("HTTP/1.1 403 Forbidden"), "{refused}");
    assert!(exchange(&proxy, b"CONNECT evil.example:443 HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 403"));
    assert!(exchange(&proxy, b"\x16\x03\x01 garbage\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
    assert!(exchange(&proxy, b"GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"), "origin form is refused");
    let counts = proxy.stop();
    assert_eq!((counts.allowed, counts.refused), (2, 4));
    assert_eq!(counts.refused_targets.get("evil.example:443"), Some(&1));
    assert!(TcpStream::connect(match proxy.address() {
        Address::Tcp(address) => *address,
        Address::Unix(_) => unreachable!(),
    })
    .is_err());
}

#[test]
fn connections_over_the_limit_wait_then_get_503_and_stop_ends_them_all() {
    let port = echo_server();
    let mut proxy = proxy_for(port);
    let mut held: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut stream = client(&proxy);
            stream.write_all(b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n").expect("half a head");
            stream
        })
        .collect();
    let started = Instant::now();
    let over = exchange(&proxy, b"CONNECT 127.0.0.1:1 HTTP/1.1\r\n\r\n");
    assert!(over.starts_with("HTTP/1.1 503"), "{over}");
    assert!(started.elapsed() >= SLOT_WAIT, "it waited for a slot first");
    held.pop();
    let served = exchange(&proxy, format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n").as_bytes());
    assert!(served.starts_with("HTTP/1.1 200"), "a slot freed by a closed connection serves the next: {served}");
    let stopping = Instant::now();
    let counts = proxy.stop();
    assert!(stopping.elapsed() < Duration::from_secs(2), "stop took {:?}", stopping.elapsed());
    assert!(counts.refused_targets.contains_key("(over-limit)"), "{counts:?}");
}

#[test]
fn a_unix_socket_proxy_removes_its_socket_when_stopped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("proxy.sock");
    let mut proxy = Proxy::on_unix_socket(&path, AllowList::default(), NetLog::counting()).expect("proxy");
    let mut stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    stream.write_all(b"CONNECT a.example:443 HTTP/1.1\r\n\r\n").expect("write");
    let mut reply = String::new();
    let _ = stream.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 403"), "{reply}");
    assert_eq!(proxy.stop().refused, 1);
    assert!(!path.exists());
}
