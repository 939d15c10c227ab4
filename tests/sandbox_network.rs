//! Egress control through the binary with the fake agent, under bubblewrap and under Landlock:
//! `--network api` (the default under a sandbox) lets the agent reach the allowed host through
//! git-dispatch's proxy and nothing else (another local server, a direct TCP connection, a UDP
//! datagram, a DNS query, `curl` to a host not on the list), logs every proxied attempt in
//! `network.jsonl` and warns in result.md; `NETWORK: strict` makes a refusal a violation;
//! `none` keeps even the allowed host out; `allow` reaches everything; the proxy survives a
//! hostile client (garbage, a half-open connection, 11 000 connections) and is gone after the
//! run. Every "outside" host is a server of the test on 127.0.0.1.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use support::cli::{
    dispatch, printed_run_dir, read_json, result_naming as result, stderr, tests_scope_packet as packet,
};
use support::fixtures::{fixture, Fixture};

/// An HTTP server on 127.0.0.1 answering `200 hello` to every request; counts them.
struct Server {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                counted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
                    head.push(byte[0]);
                }
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n");
            }
        });
        Server { port, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A UDP socket on 127.0.0.1; with `answer`, every datagram is echoed back (a "DNS server").
struct Udp {
    port: u16,
    received: Arc<AtomicUsize>,
}

impl Udp {
    fn start(answer: bool) -> Udp {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let port = socket.local_addr().expect("address").port();
        let received = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&received);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((read, from)) = socket.recv_from(&mut buffer) {
                counted.fetch_add(1, Ordering::SeqCst);
                if answer {
                    buffer[2] |= 0x80; // a response
                    let _ = socket.send_to(&buffer[..read], from);
                }
            }
        });
        Udp { port, received }
    }

    /// Datagrams received so far (UDP on loopback is delivered before `send_to` returns).
    fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sandbox {
    Bwrap,
    Landlock,
}

impl Sandbox {
    fn name(self) -> &'static str {
        match self {
            Sandbox::Bwrap => "bwrap",
            Sandbox::Landlock => "landlock",
        }
    }

    /// Whether this sandbox keeps an agent off the network here (else why, as a skip; a failure
    /// under CI=true).
    fn usable(self) -> bool {
        let (kind, abi) = match self {
            Sandbox::Bwrap => (git_dispatch::sandbox::Kind::Bwrap, None),
            Sandbox::Landlock => match git_dispatch::sandbox::landlock_support() {
                Ok(abi) => (git_dispatch::sandbox::Kind::Landlock, Some(abi)),
                Err(reason) => return skip(self, &reason),
            },
        };
        if self == Sandbox::Bwrap {
            if let Err(reason) = git_dispatch::sandbox::bwrap_usable() {
                return skip(self, &reason);
            }
        }
        match git_dispatch::sandbox::network_enforceable(kind, abi) {
            Ok(()) => true,
            Err(reason) => skip(self, &reason),
        }
    }
}

fn skip(sandbox: Sandbox, reason: &str) -> bool {
    let key = format!("network-{}", sandbox.name());
    support::skip::skip(&key, &format!("{} cannot keep an agent off the network here: {reason}", sandbox.name()));
    false
}

fn run(fx: &Fixture, packet: &Path, plan: &Value, sandbox: Sandbox, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let mut args = vec!["--sandbox", sandbox.name(), "--quiet"];
    args.extend(extra);
    let output = dispatch(fx, packet, plan, &args);
    let run_dir = printed_run_dir(&output);
    (output, run_dir)
}

/// The `net` steps' outcomes from events.jsonl: `(probe target, ok)`.
fn outcomes(run_dir: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(run_dir.join("events.jsonl")).expect("events.jsonl");
    text.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|event| event["item"]["text"].as_str().map(str::to_string))
        .filter_map(|text| {
            let rest = text.strip_prefix("net ")?;
            let (what, outcome) = rest.split_once(": ")?;
            Some((what.to_string(), outcome.starts_with("ok")))
        })
        .collect()
}

fn network_log(run_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run_dir.join("network.jsonl")).unwrap_or_default();
    text.lines().map(|line| serde_json::from_str(line).expect("a JSON line")).collect()
}

fn logged(log: &[Value], host: &str, port: u16) -> Vec<Value> {
    log.iter().filter(|entry| entry["host"] == host && entry["port"] == port).cloned().collect()
}

fn messages(policy: &Value) -> Vec<String> {
    policy["messages"].as_array().expect("list").iter().map(|m| m.as_str().expect("text").to_string()).collect()
}

fn write_step() -> Value {
    json!({"step": "shell", "cmd": "mkdir -p tests && echo x > tests/net.txt"})
}

fn net(probe: &str, port: u16) -> Value {
    json!({"step": "net", "probe": probe, "host": "127.0.0.1", "port": port})
}

fn curl_available() -> bool {
    let found = std::process::Command::new("curl").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        support::skip::skip("curl", "curl is not installed (the curl part of the test)");
    }
    found
}

fn api_reaches_only_the_allowed_host(sandbox: Sandbox) {
    if !sandbox.usable() {
        return;
    }
    let fx = fixture("python-project");
    let (allowed, other, udp, dns) = (Server::start(), Server::start(), Udp::start(false), Udp::start(true));
    let packet = packet(&fx, &format!("\nALLOW HOSTS: 127.0.0.1:{}\n", allowed.port));
    let curl = curl_available();
    let mut plan = vec![
        write_step(),
        net("http", allowed.port),
        net("connect", allowed.port),
        net("http", other.port),
        net("connect", other.port),
        net("tcp", other.port),
        net("udp", udp.port),
        json!({"step": "net", "probe": "dns", "name": "example.com", "host": "127.0.0.1", "port": dns.port}),
    ];
    if curl {
        plan.push(json!({"step": "shell", "cmd": "curl -sS -m 5 https://not-listed.example/ && echo RE\"\"ACHED"}));
    }
    plan.push(result(&["tests/net.txt"]));
    let (output, run_dir) = run(&fx, &packet, &json!(plan), sandbox, &[]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));

    let (a, b) = (allowed.port, other.port);
    let expected = [
        (format!("http 127.0.0.1:{a}"), true),
        (format!("connect 127.0.0.1:{a}"), true),
        (format!("http 127.0.0.1:{b}"), false),
        (format!("connect 127.0.0.1:{b}"), false),
        (format!("tcp 127.0.0.1:{b}"), false),
        // Inside bubblewrap's namespace the datagram "leaves" (to a loopback of its own);
        // Landlock's seccomp filter refuses the socket. Either way the server sees nothing.
        (format!("udp 127.0.0.1:{}", udp.port), sandbox == Sandbox::Bwrap),
        (format!("dns 127.0.0.1:{}", dns.port), false),
    ];
    assert_eq!(outcomes(&run_dir), expected);
    assert_eq!((allowed.hits(), other.hits(), udp.received(), dns.received()), (2, 0, 0, 0));

    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true, "{policy:#}");
    assert_eq!(policy["network"]["mode"], "api");
    let hosts = policy["network"]["allowed_hosts"].as_array().expect("list").clone();
    assert!(
        hosts.contains(&json!(format!("127.0.0.1:{a}"))) && hosts.contains(&json!("api.openai.com:443")),
        "{hosts:?}"
    );
    let refused = 2 + u64::from(curl);
    assert_eq!(policy["network"]["refused"], refused);
    assert_eq!(policy["network"]["allowed"], 2);

    let log = network_log(&run_dir);
    let to_allowed = logged(&log, "127.0.0.1", a);
    assert_eq!(to_allowed.len(), 2, "{log:#?}");
    assert!(to_allowed.iter().all(|entry| entry["allowed"] == true && entry["bytes_received"].as_u64() > Some(0)));
    assert_eq!(to_allowed.iter().map(|e| e["kind"].clone()).collect::<Vec<_>>(), [json!("http"), json!("connect")]);
    let to_other = logged(&log, "127.0.0.1", b);
    assert_eq!(to_other.len(), 2);
    assert!(to_other.iter().all(|entry| entry["allowed"] == false && entry["bytes_sent"] == 0));
    if curl {
        assert_eq!(logged(&log, "not-listed.example", 443)[0]["allowed"], false);
        let events = std::fs::read_to_string(run_dir.join("events.jsonl")).expect("events");
        assert!(!events.contains("REACHED"));
    }
    let warning = messages(&policy).into_iter().find(|m| m.starts_with("WARNING: the network policy refused"));
    let warning = warning.unwrap_or_else(|| panic!("a warning: {policy:#}"));
    assert!(warning.contains(&format!("127.0.0.1:{b} (2 times)")), "{warning}");
    let result_md = std::fs::read_to_string(run_dir.join("result.md")).expect("result.md");
    assert!(result_md.contains("the network policy refused"), "{result_md}");
}

#[test]
fn api_under_bwrap_reaches_only_the_allowed_host_and_logs_the_rest() {
    api_reaches_only_the_allowed_host(Sandbox::Bwrap);
}

#[test]
fn api_under_landlock_reaches_only_the_allowed_host_and_logs_the_rest() {
    api_reaches_only_the_allowed_host(Sandbox::Landlock);
}

#[test]
fn strict_makes_a_refused_connection_a_violation() {
    let sandbox = Sandbox::Bwrap;
    if !sandbox.usable() {
        return;
    }
    let fx = fixture("python-project");
    let other = Server::start();
    let packet = packet(&fx, "\nNETWORK: strict\n");
    let plan = json!([write_step(), net("http", other.port), result(&["tests/net.txt"])]);
    let (output, run_dir) = run(&fx, &packet, &plan, sandbox, &[]);
    assert_eq!(output.status.code(), Some(3), "stderr: {}", stderr(&output));
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!((policy["offered"].clone(), policy["network"]["mode"].clone()), (json!(false), json!("strict")));
    let violation = format!(
        "POLICY VIOLATION: the network policy refused 1 connection attempt of the agent: 127.0.0.1:{}",
        other.port
    );
    assert!(messages(&policy).iter().any(|m| m.starts_with(&violation)), "{policy:#}");
    assert_eq!(other.hits(), 0);
}

fn none_keeps_even_the_allowed_host_out(sandbox: Sandbox) {
    if !sandbox.usable() {
        return;
    }
    let fx = fixture("python-project");
    let allowed = Server::start();
    let packet = packet(&fx, &format!("\nALLOW HOSTS: 127.0.0.1:{}\n", allowed.port));
    let plan = json!([write_step(), net("http", allowed.port), net("tcp", allowed.port), result(&["tests/net.txt"])]);
    let (output, run_dir) = run(&fx, &packet, &plan, sandbox, &["--network", "none"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let port = allowed.port;
    assert_eq!(
        outcomes(&run_dir),
        [(format!("http 127.0.0.1:{port}"), false), (format!("tcp 127.0.0.1:{port}"), false)]
    );
    assert_eq!(allowed.hits(), 0);
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["network"], json!({"mode": "none", "allowed_hosts": [], "refused": 0, "allowed": 0}));
    assert!(!run_dir.join("network.jsonl").exists(), "no proxy, no log");
}

#[test]
fn none_under_bwrap_keeps_even_the_allowed_host_out() {
    none_keeps_even_the_allowed_host_out(Sandbox::Bwrap);
}

#[test]
fn none_under_landlock_keeps_even_the_allowed_host_out() {
    none_keeps_even_the_allowed_host_out(Sandbox::Landlock);
}

#[test]
fn allow_reaches_everything_as_before() {
    let sandbox = Sandbox::Bwrap;
    if !sandbox.usable() {
        return;
    }
    let fx = fixture("python-project");
    let (other, udp, dns) = (Server::start(), Udp::start(false), Udp::start(true));
    let packet = packet(&fx, "");
    let plan = json!([
        write_step(),
        net("http", other.port),
        net("tcp", other.port),
        net("udp", udp.port),
        {"step": "net", "probe": "dns", "name": "example.com", "host": "127.0.0.1", "port": dns.port},
        result(&["tests/net.txt"]),
    ]);
    let output = support::cli::command_with_plan(&fx, &plan)
        .env("GIT_DISPATCH_NETWORK", "allow")
        .args(["run", "--quiet", "--sandbox", "bwrap", "--task"])
        .arg(&packet)
        .output()
        .expect("git-dispatch runs");
    let run_dir = printed_run_dir(&output);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(outcomes(&run_dir).iter().all(|(_, ok)| *ok), "{:?}", outcomes(&run_dir));
    assert_eq!((other.hits(), udp.received(), dns.received()), (2, 1, 1));
    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["network"]["mode"], "allow");
    assert!(!messages(&policy).iter().any(|m| m.contains("network")), "{policy:#}");
}

#[test]
fn the_default_is_api_under_a_sandbox_and_allow_with_a_warning_without_one() {
    let fx = fixture("python-project");
    let packet = packet(&fx, "");
    let plan = json!([write_step(), result(&["tests/net.txt"])]);
    if Sandbox::Bwrap.usable() {
        let (output, run_dir) = run(&fx, &packet, &plan, Sandbox::Bwrap, &[]);
        assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
        assert_eq!(read_json(&run_dir.join("policy.json"))["network"]["mode"], "api");
    }
    let output = dispatch(&fx, &packet, &plan, &["--sandbox", "none", "--quiet"]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    let policy = read_json(&printed_run_dir(&output).join("policy.json"));
    assert_eq!(policy["network"]["mode"], "allow");
    let warning = "WARNING: the agent's network was not restricted (--network allow): the agent runs without a sandbox";
    assert!(messages(&policy).iter().any(|m| m.starts_with(warning)), "{policy:#}");

    let explicit = dispatch(&fx, &packet, &plan, &["--sandbox", "none", "--network", "api", "--quiet"]);
    assert_eq!(explicit.status.code(), Some(1), "stderr: {}", stderr(&explicit));
    let policy = read_json(&printed_run_dir(&explicit).join("policy.json"));
    let last = messages(&policy).pop().expect("a message");
    assert!(
        last.starts_with("ERROR at stage sandbox: --network api: cannot keep the agent off the network here"),
        "{last}"
    );

    let bad = dispatch(&fx, &packet, &plan, &["--allow-host", "bad host"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--allow-host: `bad host` is not a host name or address"), "{}", stderr(&bad));
}

/// The `--socket` of the forwarder (bwrap) from the agent's argv in run.json.
fn proxy_socket(run_dir: &Path) -> Option<PathBuf> {
    let argv = read_json(&run_dir.join("run.json"))["agent_argv"].clone();
    let argv: Vec<String> = argv.as_array()?.iter().filter_map(|arg| arg.as_str().map(str::to_string)).collect();
    let at = argv.iter().position(|arg| arg == "--socket")?;
    argv.get(at + 1).map(PathBuf::from)
}

fn survives_a_hostile_client(sandbox: Sandbox) {
    if !sandbox.usable() {
        return;
    }
    let fx = fixture("python-project");
    let allowed = Server::start();
    let packet = packet(&fx, &format!("\nALLOW HOSTS: 127.0.0.1:{}\n", allowed.port));
    let probe = fx.root.join("probe");
    let record = probe.join("agent-env.json");
    let plan = json!([
        {"step": "record", "path": record, "env": ["HTTPS_PROXY"]},
        {"step": "net", "probe": "garbage"},
        {"step": "net", "probe": "half_open"},
        {"step": "net", "probe": "flood", "count": 13000, "at_once": 200},
        net("http", allowed.port),
        write_step(),
        result(&["tests/net.txt"]),
    ]);
    let writable = probe.display().to_string();
    let started = std::time::Instant::now();
    let (output, run_dir) = run(&fx, &packet, &plan, sandbox, &["--writable", &writable]);
    assert_eq!(output.status.code(), Some(0), "stderr: {}", stderr(&output));
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
    let outcomes = outcomes(&run_dir);
    assert_eq!(outcomes[0], ("garbage proxy".to_string(), true), "the proxy answered the garbage: {outcomes:?}");
    assert_eq!(outcomes.last(), Some(&(format!("http 127.0.0.1:{}", allowed.port), true)), "{outcomes:?}");
    assert_eq!(allowed.hits(), 1);

    let policy = read_json(&run_dir.join("policy.json"));
    assert_eq!(policy["offered"], true, "{policy:#}");
    // Connections still queued when the agent ended were never served, nor counted, and a loaded
    // machine loses some of the flood's connects: 13000 keeps more than the log's cap counted.
    assert!(policy["network"]["refused"].as_u64() > Some(10_000), "{:#}", policy["network"]);
    let log = network_log(&run_dir);
    assert_eq!(log.len() as u64, git_dispatch::egress::MAX_LINES + 1, "capped, with the closing line");
    assert!(log.last().expect("line")["omitted"].as_u64() > Some(0));
    assert!(log.iter().any(|entry| entry["kind"] == "invalid"), "the flood's connections are logged");

    // Stopped with the run: its socket (bwrap) or its port (Landlock) is gone.
    match sandbox {
        Sandbox::Bwrap => {
            let socket = proxy_socket(&run_dir).expect("the forwarder's --socket in agent_argv");
            assert!(!socket.exists() && !socket.parent().expect("folder").exists(), "{socket:?} is left");
        }
        Sandbox::Landlock => {
            let env = read_json(&record)["env"]["HTTPS_PROXY"].as_str().expect("HTTPS_PROXY").to_string();
            let address = env.trim_start_matches("http://").to_string();
            assert!(TcpStream::connect(&address).is_err(), "the proxy at {address} still accepts");
        }
    }
}

#[test]
fn the_proxy_under_bwrap_survives_a_hostile_client_and_stops_with_the_run() {
    survives_a_hostile_client(Sandbox::Bwrap);
}

#[test]
fn the_proxy_under_landlock_survives_a_hostile_client_and_stops_with_the_run() {
    survives_a_hostile_client(Sandbox::Landlock);
}
