//! `git dispatch mcp`: an MCP server on stdio (rmcp) whose tools `dispatch`, `status`, `wait`,
//! `review`, `apply`, `cancel` and `list` are thin calls into the library functions the command
//! line uses: a dispatch is a detached run (`jobs::start`), so it goes on after the server exits.
//!
//! tokio lives only here: a current-thread runtime for the protocol, the tools' blocking bodies
//! on its blocking pool. stdin and stdout are the protocol ([`wire`]); logs go to stderr. The
//! server ends when stdin ends (EOF): a `wait` in flight answers at once (`still_running`), and
//! detached runs go on.
//!
//! Submodules: `text` (the instructions and tool descriptions), `args` (the tools' arguments),
//! `calls` (dispatch, status, wait, cancel, list), `review` (review, apply), `server` (the rmcp
//! router), `wire` and `idscan` (the stdio transport and its bound on message size).

mod args;
mod calls;
mod idscan;
mod review;
mod server;
mod text;
mod wire;

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use rmcp::ServiceExt;

pub use args::{DEFAULT_WAIT_SEC, MAX_WAIT_SEC};
pub use calls::{Config, INLINE_PACKET};
pub use review::PATCH_LIMIT;
pub use wire::MAX_MESSAGE_BYTES;

/// How long the server waits, once stdin has ended, for tool calls still running to return.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(500);

/// Serves MCP on stdin and `stdout` until stdin ends; returns the exit code (0 on EOF). The
/// protocol runs on a thread of its own while this thread writes its lines to `stdout`.
pub fn serve_stdio(config: Config, stdout: &mut dyn Write) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .context("cannot start the MCP server's runtime")?;
    let (transport, outbox, input_closed) = wire::stdio();
    let closer = outbox.closer();
    let server = server::DispatchServer::new(config, input_closed);
    let session = std::thread::spawn(move || {
        let served = runtime.block_on(async move {
            let running = server.serve(transport).await?;
            running.waiting().await.map_err(anyhow::Error::from)?;
            anyhow::Ok(())
        });
        runtime.shutdown_timeout(SHUTDOWN_GRACE);
        closer.close();
        served
    });
    outbox.drain_into(stdout);
    let served = session.join().map_err(|_| anyhow::anyhow!("the MCP session panicked"))?;
    match served {
        Ok(()) => Ok(0),
        Err(err) if is_closed_early(&err) => Ok(0),
        Err(err) => Err(err).context("the MCP session failed"),
    }
}

/// The client went away before (or while) initializing: a normal end for a stdio server.
fn is_closed_early(err: &anyhow::Error) -> bool {
    let text = format!("{err:#}").to_ascii_lowercase();
    text.contains("connection closed") || text.contains("transport closed")
}
