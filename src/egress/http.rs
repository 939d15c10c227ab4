//! The HTTP/1 the proxy needs, parsed by `httparse`: a request head read with a size and time
//! limit, its target (`CONNECT host:port`, or an absolute `http://` URI for a forwarded request),
//! and the two rewrites of a forwarded request: the request head in origin form with
//! `Connection: close`, and the response head with `Connection: close`, so that each proxy
//! connection carries one request to one host and its bytes can be pumped without parsing bodies.

use std::io::{self, Read};
use std::time::Instant;

use super::hosts::normalize;
use super::pump::Stream;

/// The largest head (request or response) the proxy reads.
pub(super) const MAX_HEAD: usize = 64 * 1024;

/// The most header lines of a head.
const MAX_HEADERS: usize = 128;

/// Why no request head could be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum HeadError {
    #[error("the client closed the connection before a request")]
    Closed,
    #[error("no complete request head in time")]
    Timeout,
    #[error("request head over {MAX_HEAD} bytes")]
    TooLarge,
    #[error("not an HTTP request ({0})")]
    Invalid(httparse::Error),
    #[error("reading the request: {0}")]
    Io(io::Error),
}

/// A parsed head: a request (`method`, `target`) or a response (`code`, `reason`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Head {
    pub method: String,
    pub target: String,
    pub code: u16,
    pub reason: String,
    pub minor_version: u8,
    pub headers: Vec<(String, Vec<u8>)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_slice())
    }
}

/// The destination of a proxy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    /// `CONNECT host:port`: a tunnel.
    Connect { host: String, port: u16 },
    /// `GET http://host:port/path`: forwarded with `path` as its target.
    Http { host: String, port: u16, path: String },
}

impl Target {
    /// The target of a request head, or why it is no proxy request.
    pub fn of(head: &Head) -> Result<Target, String> {
        if head.method.eq_ignore_ascii_case("CONNECT") {
            let authority: http::uri::Authority =
                head.target.parse().map_err(|_| format!("CONNECT to `{}`, which is not host:port", head.target))?;
            let port = authority.port_u16().ok_or_else(|| format!("CONNECT to `{}` without a port", head.target))?;
            return Ok(Target::Connect { host: normalize(authority.host()), port });
        }
        let uri: http::Uri = head.target.parse().map_err(|_| format!("`{}` is not a URI", head.target))?;
        match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) if scheme.eq_ignore_ascii_case("http") => {
                let path = uri.path_and_query().map_or("/", |path| path.as_str());
                let path = if path.is_empty() { "/" } else { path };
                Ok(Target::Http { host: normalize(host), port: uri.port_u16().unwrap_or(80), path: path.to_string() })
            }
            (Some(scheme), _) => Err(format!("a plain request for a `{scheme}` URI (use CONNECT)")),
            _ => Err(format!(
                "`{} {}` is no proxy request (an absolute http:// URI or CONNECT)",
                head.method, head.target
            )),
        }
    }

    pub fn host_port(&self) -> (&str, u16) {
        match self {
            Target::Connect { host, port } | Target::Http { host, port, .. } => (host, *port),
        }
    }
}

/// Reads a request head from `stream` before `deadline`: the head and the bytes read past it.
pub(super) fn read_request(stream: &mut Stream, deadline: Instant) -> Result<(Head, Vec<u8>), HeadError> {
    read_head(stream, Some(deadline), parse_request)
}

/// Reads a response head (no deadline: a model may think long before its first byte).
pub(super) fn read_response(stream: &mut Stream) -> Result<(Head, Vec<u8>), HeadError> {
    read_head(stream, None, parse_response)
}

type Parsed = Result<Option<(usize, Head)>, httparse::Error>;

fn read_head(
    stream: &mut Stream,
    deadline: Option<Instant>,
    parse: fn(&[u8]) -> Parsed,
) -> Result<(Head, Vec<u8>), HeadError> {
    let mut buffer: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(deadline) = deadline {
            let left = deadline.checked_duration_since(Instant::now()).filter(|left| !left.is_zero());
            stream.set_read_timeout(Some(left.ok_or(HeadError::Timeout)?)).map_err(HeadError::Io)?;
        }
        let read = match stream.read(&mut chunk) {
            Ok(0) => return Err(HeadError::Closed),
            Ok(read) => read,
            Err(error) if matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(HeadError::Timeout)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(HeadError::Io(error)),
        };
        buffer.extend_from_slice(&chunk[..read]);
        if let Some((length, head)) = parse(&buffer).map_err(HeadError::Invalid)? {
            return Ok((head, buffer.split_off(length)));
        }
        if buffer.len() > MAX_HEAD {
            return Err(HeadError::TooLarge);
        }
    }
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, Vec<u8>)> {
    headers.iter().map(|header| (header.name.to_string(), header.value.to_vec())).collect()
}

fn parse_request(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(length) = request.parse(bytes)? else { return Ok(None) };
    let head = Head {
        method: request.method.unwrap_or_default().to_string(),
        target: request.path.unwrap_or_default().to_string(),
        minor_version: request.version.unwrap_or(1),
        headers: owned_headers(request.headers),
        ..Head::default()
    };
    Ok(Some((length, head)))
}

fn parse_response(bytes: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    let httparse::Status::Complete(length) = response.parse(bytes)? else { return Ok(None) };
    let head = Head {
        code: response.code.unwrap_or_default(),
        reason: response.reason.unwrap_or_default().to_string(),
        minor_version: response.version.unwrap_or(1),
        headers: owned_headers(response.headers),
        ..Head::default()
    };
    Ok(Some((length, head)))
}

/// Headers that belong to one hop (the client's connection to the proxy) and are not forwarded.
const HOP_BY_HOP: [&str; 4] = ["connection", "keep-alive", "proxy-connection", "proxy-authorization"];

/// Does the request ask to switch protocols (a websocket)? Then its `Connection` stays.
fn upgrades(head: &Head) -> bool {
    head.header("upgrade").is_some()
}

fn push_headers(out: &mut Vec<u8>, head: &Head, keep_connection: bool) {
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        if HOP_BY_HOP.contains(&lower.as_str()) && !(keep_connection && lower == "connection") {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !keep_connection {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The request head for the origin server: `path` as target, no proxy headers, a `Host`, and
/// `Connection: close` (unless it upgrades).
pub(super) fn origin_request(head: &Head, host: &str, port: u16, path: &str) -> Vec<u8> {
    let mut out = format!("{} {path} HTTP/1.1\r\n", head.method).into_bytes();
    if head.header("host").is_none() {
        let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        let authority = if port == 80 { host } else { format!("{host}:{port}") };
        out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
    }
    push_headers(&mut out, head, upgrades(head));
    out
}

/// The response head for the client with `Connection: close` (a `101` goes unchanged).
pub(super) fn closing_response(head: &Head) -> Vec<u8> {
    let mut out = format!("HTTP/1.{} {} {}\r\n", head.minor_version, head.code, head.reason).into_bytes();
    push_headers(&mut out, head, head.code == 101);
    out
}

/// A complete short response of the proxy itself (a refusal, an error), closing the connection.
pub(super) fn own_response(code: u16, reason: &str, text: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{text}",
        text.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(bytes: &[u8]) -> Head {
        parse_request(bytes).expect("valid").expect("complete").1
    }

    #[test]
    fn targets_of_connect_and_absolute_requests() {
        let connect = head(b"CONNECT API.example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(Target::of(&connect), Ok(Target::Connect { host: "api.example.com".into(), port: 443 }));
        let v6 = head(b"CONNECT [::1]:8443 HTTP/1.1\r\n\r\n");
        assert_eq!(Target::of(&v6), Ok(Target::Connect { host: "::1".into(), port: 8443 }));
        let get = head(b"GET http://127.0.0.1:4000/v1/responses?x=1 HTTP/1.1\r\n\r\n");
        let expected = Target::Http { host: "127.0.0.1".into(), port: 4000, path: "/v1/responses?x=1".into() };
        assert_eq!(Target::of(&get), Ok(expected));
        let bare = head(b"HEAD http://example.com HTTP/1.1\r\n\r\n");
        assert_eq!(Target::of(&bare), Ok(Target::Http { host: "example.com".into(), port: 80, path: "/".into() }));
        assert!(Target::of(&head(b"GET / HTTP/1.1\r\n\r\n")).is_err(), "origin form is no proxy request");
        assert!(Target::of(&head(b"GET https://example.com/ HTTP/1.1\r\n\r\n")).is_err());
        assert!(Target::of(&head(b"CONNECT example.com HTTP/1.1\r\n\r\n")).is_err());
        assert!(parse_request(b"\x16\x03\x01garbage\r\n\r\n").is_err());
        assert_eq!(parse_request(b"CONNECT a:1 HTTP/1.1\r\n").expect("partial"), None);
    }

    #[test]
    fn forwarded_heads_lose_proxy_headers_and_close() {
        let request = head(
            b"POST http://127.0.0.1:4000/v1 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nProxy-Connection: keep-alive\r\n\
              Proxy-Authorization: Basic x\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\n",
        );
        let text = String::from_utf8(origin_request(&request, "127.0.0.1", 4000, "/v1")).expect("text");
        assert_eq!(text, "POST /v1 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
        let no_host = head(b"GET http://[::1]:81/ HTTP/1.1\r\n\r\n");
        assert!(String::from_utf8(origin_request(&no_host, "::1", 81, "/"))
            .expect("text")
            .contains("Host: [::1]:81\r\n"));
        let mut response = Head { code: 200, reason: "OK".into(), minor_version: 1, ..Head::default() };
        response.headers = vec![("Keep-Alive".into(), b"timeout=5".to_vec()), ("Content-Type".into(), b"x".to_vec())];
        assert_eq!(
            String::from_utf8(closing_response(&response)).expect("text"),
            "HTTP/1.1 200 OK\r\nContent-Type: x\r\nConnection: close\r\n\r\n"
        );
    }
}
