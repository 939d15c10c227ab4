//! The MCP server's stdio transport: newline-delimited JSON-RPC, stdin read and stdout written by
//! plain threads (no async I/O): a reader of stdin, and the caller's thread writing stdout
//! ([`Outbox::drain_into`]); the pair is handed to rmcp as a [`Transport`].
//!
//! Stricter than the SDK's own stdio transport about bad input, which it drops silently (the
//! client then waits forever for an answer): every line that is not a message gets a JSON-RPC
//! error. Not JSON: `-32700` (id null). JSON but no message: `-32600` with its id when it has
//! one (a notification gets nothing). Longer than [`MAX_MESSAGE_BYTES`]: `-32600` with the id
//! found by [`IdScanner`] while the line is skipped, so memory stays bounded whatever arrives.
//! stdout carries nothing but whole protocol lines, each flushed.

use std::io::{self, BufRead, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleServer;
use serde_json::{json, Value};

use super::idscan::IdScanner;

/// The longest message read, in bytes (a task packet is a few kilobytes).
pub const MAX_MESSAGE_BYTES: usize = 8 << 20;

/// JSON-RPC's "Parse error", "Invalid Request" and "Invalid params" codes.
const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const INVALID_PARAMS: i64 = -32602;

/// The transport rmcp serves on: messages read from stdin, lines for stdout.
pub struct StdioWire {
    incoming: tokio::sync::mpsc::Receiver<RxJsonRpcMessage<RoleServer>>,
    outgoing: mpsc::Sender<Out>,
}

/// What goes to stdout: a whole line, or the end of the session.
#[derive(Debug)]
pub enum Out {
    Line(Vec<u8>),
    End,
}

/// The lines to write to stdout, in order, from the transport and the reader.
pub struct Outbox {
    lines: mpsc::Receiver<Out>,
    closer: mpsc::Sender<Out>,
}

/// Ends an [`Outbox`]'s writing once the session is over (the reader may still be blocked).
pub struct Closer(mpsc::Sender<Out>);

impl Closer {
    pub fn close(self) {
        let _ = self.0.send(Out::End);
    }
}

impl Outbox {
    pub fn closer(&self) -> Closer {
        Closer(self.closer.clone())
    }

    /// Writes every line to `out` (flushed one by one) until the session ends.
    pub fn drain_into(self, out: &mut dyn Write) {
        let Outbox { lines, closer } = self;
        drop(closer);
        for message in lines {
            let Out::Line(line) = message else { return };
            if out.write_all(&line).and_then(|()| out.flush()).is_err() {
                eprintln!("git-dispatch mcp: stdout is closed; stopping");
                return;
            }
        }
    }
}

/// Set once stdin has ended: the client is gone (or has said all it will say).
#[derive(Debug, Clone, Default)]
pub struct InputClosed(Arc<AtomicBool>);

impl InputClosed {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn set(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The transport on this process's stdin (read by a thread of its own), the lines it sends, and
/// the flag set when stdin ends.
pub fn stdio() -> (StdioWire, Outbox, InputClosed) {
    let (outgoing, lines) = mpsc::channel::<Out>();
    let (deliver, incoming) = tokio::sync::mpsc::channel(16);
    let replies = outgoing.clone();
    let closed = InputClosed::default();
    let reader_closed = closed.clone();
    std::thread::spawn(move || {
        read_messages(io::stdin().lock(), &deliver, &replies);
        reader_closed.set();
    });
    let closer = outgoing.clone();
    (StdioWire { incoming, outgoing }, Outbox { lines, closer }, closed)
}

impl Transport<RoleServer> for StdioWire {
    type Error = io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        let sent = serde_json::to_vec(&item).map_err(io::Error::other).and_then(|mut line| {
            line.push(b'\n');
            self.outgoing
                .send(Out::Line(line))
                .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "stdout is closed"))
        });
        std::future::ready(sent)
    }

    fn receive(&mut self) -> impl std::future::Future<Output = Option<RxJsonRpcMessage<RoleServer>>> + Send {
        self.incoming.recv()
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.incoming.close();
        Ok(())
    }
}

/// Reads stdin line by line until EOF (or until the server stops taking messages): messages go
/// to rmcp, anything else is answered here.
pub fn read_messages(
    input: impl Read,
    deliver: &tokio::sync::mpsc::Sender<RxJsonRpcMessage<RoleServer>>,
    replies: &mpsc::Sender<Out>,
) {
    let mut lines = LineReader::new(input, MAX_MESSAGE_BYTES);
    loop {
        let incoming = match lines.next_line() {
            Ok(Some(line)) => classify(line),
            Ok(None) => return,
            Err(err) => {
                eprintln!("git-dispatch mcp: cannot read stdin: {err}");
                return;
            }
        };
        match incoming {
            Incoming::Message(message) => {
                if deliver.blocking_send(*message).is_err() {
                    return;
                }
            }
            Incoming::Reply(line) => {
                if replies.send(Out::Line(line)).is_err() {
                    return;
                }
            }
            Incoming::Ignore => {}
        }
    }
}

/// One line of input, whole or (too long) only scanned.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Whole(Vec<u8>),
    TooLong { bytes: usize, id: Option<Value> },
}

/// What to do with a line.
#[derive(Debug)]
pub enum Incoming {
    Message(Box<RxJsonRpcMessage<RoleServer>>),
    /// A JSON-RPC error line to write back.
    Reply(Vec<u8>),
    Ignore,
}

/// A message, or the error that answers a line that is none.
pub fn classify(line: Line) -> Incoming {
    let bytes = match line {
        Line::Whole(bytes) => bytes,
        Line::TooLong { bytes, id } => {
            eprintln!("git-dispatch mcp: refused a message of {bytes} bytes");
            let message =
                format!("Invalid Request: the message has {bytes} bytes, more than the limit of {MAX_MESSAGE_BYTES}");
            return Incoming::Reply(error_line(id.unwrap_or(Value::Null), INVALID_REQUEST, &message));
        }
    };
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    if text.iter().all(u8::is_ascii_whitespace) {
        return Incoming::Ignore;
    }
    let error = match serde_json::from_slice::<RxJsonRpcMessage<RoleServer>>(text) {
        Ok(message) => return arguments_checked(message, text),
        Err(err) => err,
    };
    let Ok(value) = serde_json::from_slice::<Value>(text) else {
        eprintln!("git-dispatch mcp: a line that is not JSON: {error}");
        return Incoming::Reply(error_line(Value::Null, PARSE_ERROR, &format!("Parse error: {error}")));
    };
    let id = value.get("id").filter(|id| id.is_string() || id.is_i64()).cloned();
    if id.is_none() && value.get("method").is_some_and(Value::is_string) {
        eprintln!("git-dispatch mcp: ignored a notification it does not know: {error}");
        return Incoming::Ignore;
    }
    eprintln!("git-dispatch mcp: not a JSON-RPC message: {error}");
    Incoming::Reply(error_line(id.unwrap_or(Value::Null), INVALID_REQUEST, &format!("Invalid Request: {error}")))
}

/// A `tools/call` whose arguments do not fit its tool is answered "Invalid params" here; every
/// other message goes on to rmcp.
fn arguments_checked(message: RxJsonRpcMessage<RoleServer>, text: &[u8]) -> Incoming {
    let Ok(value) = serde_json::from_slice::<Value>(text) else { return Incoming::Message(Box::new(message)) };
    if value["method"] != "tools/call" {
        return Incoming::Message(Box::new(message));
    }
    let name = value["params"]["name"].as_str().unwrap_or_default();
    match super::args::check_arguments(name, &value["params"]["arguments"]) {
        Ok(()) => Incoming::Message(Box::new(message)),
        Err(reason) => {
            eprintln!("git-dispatch mcp: tool `{name}`: arguments refused: {reason}");
            let id = value.get("id").cloned().unwrap_or(Value::Null);
            Incoming::Reply(error_line(id, INVALID_PARAMS, &format!("Invalid params: tool `{name}`: {reason}")))
        }
    }
}

/// A JSON-RPC error response line.
fn error_line(id: Value, code: i64, message: &str) -> Vec<u8> {
    let mut line = json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}).to_string();
    line.push('\n');
    line.into_bytes()
}

/// Newline-delimited lines of at most `max` bytes; the rest of a longer line is skipped (and
/// scanned for its id), never held.
pub struct LineReader<R> {
    input: io::BufReader<R>,
    max: usize,
}

impl<R: Read> LineReader<R> {
    pub fn new(input: R, max: usize) -> LineReader<R> {
        LineReader { input: io::BufReader::with_capacity(64 * 1024, input), max }
    }

    /// The next line without its newline; `None` at EOF (a last line without a newline counts).
    pub fn next_line(&mut self) -> io::Result<Option<Line>> {
        let mut line = Vec::new();
        let mut skipped: Option<IdScanner> = None;
        let mut total = 0usize;
        loop {
            let buffer = match self.input.fill_buf() {
                Ok(buffer) => buffer,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if buffer.is_empty() {
                return Ok((total > 0).then(|| finish(line, skipped, total)));
            }
            let newline = buffer.iter().position(|&byte| byte == b'\n');
            let chunk = &buffer[..newline.unwrap_or(buffer.len())];
            total += chunk.len();
            match &mut skipped {
                Some(scanner) => scanner.feed(chunk),
                None if line.len() + chunk.len() > self.max => {
                    let mut scanner = IdScanner::default();
                    scanner.feed(&line);
                    scanner.feed(chunk);
                    line = Vec::new();
                    skipped = Some(scanner);
                }
                None => line.extend_from_slice(chunk),
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.input.consume(used);
            if newline.is_some() {
                return Ok(Some(finish(line, skipped, total)));
            }
        }
    }
}

fn finish(line: Vec<u8>, skipped: Option<IdScanner>, total: usize) -> Line {
    match skipped {
        Some(scanner) => Line::TooLong { bytes: total, id: scanner.id() },
        None => Line::Whole(line),
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
