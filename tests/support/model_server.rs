//! Scripted model servers on 127.0.0.1 for the real agent CLIs: an OpenAI Responses API server for
//! codex and an Anthropic Messages API server for claude (as `shared/agents/NOTES.md` describes).
//!
//! A server follows a script, a list of [`Turn`]s. It is stateless: the turn to answer is found
//! from the request's history. Tool-call ids carry their turn number (`call_t2_0`, `toolu_t2_0`),
//! so the next turn is one past the highest turn whose tool output came back (with a plain count
//! of tool outputs as fallback). Requests that offer no tools (side requests such as titles) get
//! a short text answer and use no turn. A script that runs out answers with a final text.
//! Every request is recorded for assertions.
//!
//! Bounded: one thread per connection with read/write timeouts, a hanging turn waits only until
//! the server is dropped, and dropping the server stops the accept loop and joins every thread.

#![allow(dead_code)]

#[path = "model_server/anthropic.rs"]
mod anthropic;
#[path = "model_server/http.rs"]
mod http;
#[path = "model_server/openai.rs"]
mod openai;

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;

#[allow(unused_imports)]
pub use anthropic::tool_outputs;
pub use http::RecordedRequest;

/// The longest a server lives, and the longest a hanging turn holds its connection.
const MAX_LIFETIME: Duration = Duration::from_secs(600);
const IO_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(5);

/// One model turn of a script.
#[derive(Debug, Clone)]
pub enum Turn {
    /// Run a shell command (codex `exec_command`, claude `Bash`).
    Shell(String),
    /// Write whole new files, `(path relative to the agent's cwd, content)`: codex `apply_patch`
    /// with `*** Add File:` sections (content gets a final newline), claude one `Write` call per file
    /// with the absolute path under the request's "Primary working directory".
    WriteFiles(Vec<(String, String)>),
    /// The final answer text. claude: when a `StructuredOutput` tool is offered and the text is a
    /// JSON object, it is sent as that tool's input instead.
    Final(String),
    /// Answer HTTP 500 with an API error body.
    Http500,
    /// Read the request and never answer (until the server is dropped).
    Hang,
    /// claude only: a Bash call with an explicit `timeout` in milliseconds (the orchestrator's
    /// `git dispatch wait` loop).
    Bash { command: String, timeout_ms: u64 },
    /// claude only: a call of the tool `name` (e.g. an MCP tool, `mcp__git-dispatch__wait`) with
    /// this JSON input.
    Tool { name: String, input: Value },
    /// claude only: as the first and only turn of a script, decides every turn from the tool
    /// results so far (in order), so that a script can loop on what it got back.
    Program(fn(&[ToolOutput]) -> Turn),
}

/// One tool result the CLI sent back: its text and whether it was an error (a non-zero exit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    pub text: String,
    pub is_error: bool,
}

impl Turn {
    pub fn shell(command: &str) -> Turn {
        Turn::Shell(command.to_owned())
    }

    pub fn write(path: &str, content: &str) -> Turn {
        Turn::WriteFiles(vec![(path.to_owned(), content.to_owned())])
    }

    pub fn final_text(text: &str) -> Turn {
        Turn::Final(text.to_owned())
    }

    pub fn tool(name: &str, input: Value) -> Turn {
        Turn::Tool { name: name.to_owned(), input }
    }

    pub fn final_json(value: &Value) -> Turn {
        Turn::Final(value.to_string())
    }
}

/// Which API a server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAiResponses,
    AnthropicMessages,
}

/// What a server sends back for one request.
pub enum Reply {
    /// `200 text/event-stream` with these `(event, data)` pairs.
    Stream(Vec<(String, Value)>),
    /// A JSON body with this status (`Value::Null` means an empty body).
    Json(u16, Value),
    /// No answer: hold the connection until the server stops.
    Hang,
}

struct Shared {
    api: Api,
    script: Vec<Turn>,
    requests: Mutex<Vec<RecordedRequest>>,
    stop: AtomicBool,
    connections: Mutex<Vec<JoinHandle<()>>>,
}

/// A running scripted model server; stops when dropped.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// An OpenAI Responses API server (`POST /v1/responses`) for codex.
    pub fn openai(script: Vec<Turn>) -> ModelServer {
        ModelServer::start(Api::OpenAiResponses, script)
    }

    /// An Anthropic Messages API server (`HEAD /api/hello`, `POST /v1/messages`) for claude.
    pub fn anthropic(script: Vec<Turn>) -> ModelServer {
        ModelServer::start(Api::AnthropicMessages, script)
    }

    fn start(api: Api, script: Vec<Turn>) -> ModelServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        listener.set_nonblocking(true).expect("making the listener non-blocking");
        let addr = listener.local_addr().expect("reading the listener address");
        let shared = Arc::new(Shared {
            api,
            script,
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::spawn(move || accept_loop(&listener, &accept_shared));
        ModelServer { addr, shared, accept: Some(accept) }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The base URL the CLI is given: `http://127.0.0.1:PORT/v1` for codex (its `base_url`),
    /// `http://127.0.0.1:PORT` for claude (`ANTHROPIC_BASE_URL`).
    pub fn url(&self) -> String {
        match self.shared.api {
            Api::OpenAiResponses => format!("http://{}/v1", self.addr),
            Api::AnthropicMessages => format!("http://{}", self.addr),
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// The model requests only (`POST /v1/responses` or `POST /v1/messages`).
    pub fn model_requests(&self) -> Vec<RecordedRequest> {
        let route = match self.shared.api {
            Api::OpenAiResponses => "/v1/responses",
            Api::AnthropicMessages => "/v1/messages",
        };
        self.requests().into_iter().filter(|request| request.method == "POST" && request.route() == route).collect()
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        let connections = std::mem::take(&mut *self.shared.connections.lock().expect("connections lock"));
        for connection in connections {
            let _ = connection.join();
        }
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub fn unused_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener.local_addr().expect("reading the address").port()
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let deadline = Instant::now() + MAX_LIFETIME;
    while !shared.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                let connection_shared = Arc::clone(shared);
                let handle = thread::spawn(move || serve_connection(stream, &connection_shared));
                shared.connections.lock().expect("connections lock").push(handle);
            }
            Err(_) => thread::sleep(POLL),
        }
    }
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let Ok(Some(request)) = http::read_request(&mut reader) else {
        return;
    };
    shared.requests.lock().expect("requests lock").push(request.clone());
    let reply = match shared.api {
        Api::OpenAiResponses => openai::reply(&shared.script, &request),
        Api::AnthropicMessages => anthropic::reply(&shared.script, &request),
    };
    let mut stream = stream;
    let _ = match reply {
        Reply::Stream(events) => http::write_event_stream(&mut stream, &events),
        Reply::Json(status, Value::Null) => http::write_response(&mut stream, status, "application/json", b""),
        Reply::Json(status, body) => {
            http::write_response(&mut stream, status, "application/json", body.to_string().as_bytes())
        }
        Reply::Hang => {
            hold_until_stopped(shared);
            Ok(())
        }
    };
}

fn hold_until_stopped(shared: &Shared) {
    let deadline = Instant::now() + MAX_LIFETIME;
    while !shared.stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
}

/// The turn number encoded in a tool-call id such as `call_t3_0` or `toolu_t3_1`.
fn turn_of_id(id: &str) -> Option<usize> {
    let rest = id.split("_t").nth(1)?;
    rest.split('_').next()?.parse().ok()
}

/// The next turn, from the ids of the tool outputs found in the history.
fn next_turn(output_ids: &[String]) -> usize {
    let from_ids = output_ids.iter().filter_map(|id| turn_of_id(id)).max();
    match from_ids {
        Some(turn) => turn + 1,
        None => output_ids.len(),
    }
}
