//! The MCP server itself (rmcp's `#[tool_router]`): one tool per job command, each running its
//! blocking body from [`super::calls`] or [`super::review`] on tokio's blocking pool, so that a
//! long `wait` does not hold up a `status` call. A body's `Err` is a tool error (`isError: true`,
//! its one-line reason); bad arguments never reach a body (rmcp answers "invalid params").

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ProgressNotificationParam, RequestMetaObject, ServerCapabilities,
    ServerConfig,
};
use rmcp::{tool, tool_handler, tool_router, ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::Value;

use super::args::{ApplyArgs, CancelArgs, DispatchArgs, ListArgs, ReviewArgs, StatusArgs, WaitArgs};
use super::calls::{self, Config};
use super::wire::InputClosed;
use super::{review, text};
use crate::artifacts::state::RunState;

/// The server: its configuration and its tools.
#[derive(Clone)]
pub struct DispatchServer {
    config: Arc<Config>,
    /// Set when stdin has ended: a `wait` in flight answers at once.
    input_closed: InputClosed,
    tool_router: ToolRouter<DispatchServer>,
}

impl DispatchServer {
    pub fn new(config: Config, input_closed: InputClosed) -> DispatchServer {
        DispatchServer { config: Arc::new(config), input_closed, tool_router: Self::tool_router() }
    }
}

#[tool_router]
impl DispatchServer {
    #[tool(description = text::DISPATCH, annotations(title = "Dispatch a task packet", open_world_hint = true))]
    async fn dispatch(&self, Parameters(args): Parameters<DispatchArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        answer(move || calls::dispatch(&config, args)).await
    }

    #[tool(description = text::STATUS, annotations(title = "Status of runs", read_only_hint = true))]
    async fn status(&self, Parameters(args): Parameters<StatusArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        answer(move || calls::status(&config, args)).await
    }

    #[tool(description = text::WAIT, annotations(title = "Wait for runs", read_only_hint = true))]
    async fn wait(
        &self,
        Parameters(args): Parameters<WaitArgs>,
        meta: RequestMetaObject,
        peer: Peer<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        let progress = meta.get_progress_token();
        let runtime = tokio::runtime::Handle::current();
        let input_closed = self.input_closed.clone();
        answer(move || {
            let mut on_tick = |states: &[RunState], elapsed: Duration, timeout: Duration| {
                let Some(token) = &progress else { return };
                let note = ProgressNotificationParam::new(token.clone(), elapsed.as_secs_f64().floor())
                    .with_total(timeout.as_secs_f64())
                    .with_message(progress_message(states));
                let _ = runtime.block_on(peer.notify_progress(note));
            };
            calls::wait(&config, args, &mut on_tick, &|| input_closed.is_set())
        })
        .await
    }

    #[tool(description = text::REVIEW, annotations(title = "Review a run", read_only_hint = true))]
    async fn review(&self, Parameters(args): Parameters<ReviewArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        let reviewed = tokio::task::spawn_blocking(move || review::review(&config, args)).await.map_err(panicked)?;
        Ok(match reviewed {
            Ok(review) => review_result(review),
            Err(err) => tool_error(&err),
        })
    }

    #[tool(
        description = text::APPLY,
        annotations(title = "Apply an offered run", destructive_hint = true, idempotent_hint = false)
    )]
    async fn apply(&self, Parameters(args): Parameters<ApplyArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        answer(move || review::apply(&config, args)).await
    }

    #[tool(description = text::CANCEL, annotations(title = "Cancel runs", destructive_hint = true))]
    async fn cancel(&self, Parameters(args): Parameters<CancelArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        answer(move || calls::cancel(&config, args)).await
    }

    #[tool(description = text::LIST, annotations(title = "List runs", read_only_hint = true))]
    async fn list(&self, Parameters(args): Parameters<ListArgs>) -> Result<CallToolResult, ErrorData> {
        let config = Arc::clone(&self.config);
        answer(move || calls::list(&config, args)).await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for DispatchServer {
    fn get_info(&self) -> ServerConfig {
        let mut implementation = Implementation::new("git-dispatch", env!("CARGO_PKG_VERSION"));
        implementation.title = Some("git-dispatch".to_string());
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(implementation)
            .with_instructions(text::INSTRUCTIONS)
    }
}

/// Runs `body` on the blocking pool: its JSON as the structured result (and as text), its error
/// as a tool error.
async fn answer<F>(body: F) -> Result<CallToolResult, ErrorData>
where
    F: FnOnce() -> anyhow::Result<Value> + Send + 'static,
{
    let answered = tokio::task::spawn_blocking(body).await.map_err(panicked)?;
    Ok(match answered {
        Ok(value) => success(value),
        Err(err) => tool_error(&err),
    })
}

fn success(value: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| value.to_string());
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(value);
    result
}

/// The review's fields without the patch as JSON, then the review text (with the patch, cut);
/// the structured result has the fields and the patch.
fn review_result(review: review::Review) -> CallToolResult {
    let mut fields = review.fields.clone();
    if let Some(object) = fields.as_object_mut() {
        object.remove("patch");
    }
    let json = serde_json::to_string_pretty(&fields).unwrap_or_default();
    let mut result = CallToolResult::success(vec![ContentBlock::text(json), ContentBlock::text(review.text)]);
    result.structured_content = Some(review.fields);
    result
}

/// A tool error: the error chain on one line, as the command line prints it after `error:`.
fn tool_error(err: &anyhow::Error) -> CallToolResult {
    eprintln!("git-dispatch mcp: tool error: {err:#}");
    CallToolResult::error(vec![ContentBlock::text(format!("{err:#}"))])
}

fn panicked(err: tokio::task::JoinError) -> ErrorData {
    ErrorData::internal_error(format!("the tool stopped: {err}"), None)
}

/// One line per run for a progress notification: id, state, stage, what the agent does.
fn progress_message(states: &[RunState]) -> String {
    let lines: Vec<String> = states
        .iter()
        .map(|state| {
            let what = state.activity.as_deref().unwrap_or("");
            format!("{}: {} ({}) {what}", state.run_id, state.state.name(), state.stage).trim_end().to_string()
        })
        .collect();
    lines.join("; ")
}
