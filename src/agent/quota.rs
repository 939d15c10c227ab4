//! The Codex quota gate, as the seed does it: read the ChatGPT login token from
//! `$CODEX_HOME/auth.json` (default `~/.codex`), ask the usage endpoint, and compare the 5-hour
//! window's `rate_limit.primary_window.used_percent` with the gate. Any problem (no login, no
//! network, a strange answer, 5 s passed) skips the gate with a reason: the caller warns and goes
//! on. `GIT_DISPATCH_USAGE_URL` replaces the endpoint (tests point it at 127.0.0.1).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::Value;

/// The endpoint the seed (and codexbar) ask.
pub const DEFAULT_USAGE_URL: &str = "https://chatgpt.com/backend-api/wham/usage";

/// The variable that replaces [`DEFAULT_USAGE_URL`].
pub const USAGE_URL_ENV: &str = "GIT_DISPATCH_USAGE_URL";

/// The longest the whole check may take.
pub const QUOTA_TIMEOUT: Duration = Duration::from_secs(5);

/// What the gate decided.
#[derive(Debug, Clone, PartialEq)]
pub enum QuotaVerdict {
    /// The gate could not be checked (or is off); dispatch goes on with a warning. `asked`: the
    /// usage endpoint was asked (there is a login) and gave no usable answer, which the user is told.
    Skipped { reason: String, asked: bool },
    /// Below the gate.
    Under { used_percent: f64 },
    /// At or above the gate: blocked unless `--force`.
    Over { used_percent: f64, reset_after_seconds: Option<u64> },
}

impl QuotaVerdict {
    /// The line to show the user (the seed's wording).
    pub fn message(&self, gate_percent: f64) -> String {
        match self {
            QuotaVerdict::Skipped { reason, .. } => format!("quota gate check skipped: {reason}"),
            QuotaVerdict::Under { used_percent } => {
                format!("Codex 5h window at {used_percent}% (< {gate_percent}% gate)")
            }
            QuotaVerdict::Over { used_percent, reset_after_seconds } => {
                let seconds = reset_after_seconds.unwrap_or(0);
                format!(
                    "Codex 5h window at {used_percent}% (>= {gate_percent}% gate); reset in \
                     {}h {:02}m. Use --force to override.",
                    seconds / 3600,
                    seconds % 3600 / 60
                )
            }
        }
    }
}

/// Where the gate looks.
#[derive(Debug, Clone)]
pub struct QuotaSource {
    /// `$CODEX_HOME/auth.json`; `None` when neither `CODEX_HOME` nor `HOME` is set.
    pub auth_file: Option<PathBuf>,
    pub url: String,
    pub timeout: Duration,
}

impl QuotaSource {
    /// From `CODEX_HOME` (else `$HOME/.codex`) and `GIT_DISPATCH_USAGE_URL`.
    pub fn from_env() -> QuotaSource {
        let codex_home = std::env::var_os("CODEX_HOME")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".codex")));
        QuotaSource {
            auth_file: codex_home.map(|home| home.join("auth.json")),
            url: std::env::var(USAGE_URL_ENV)
                .ok()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| DEFAULT_USAGE_URL.to_string()),
            timeout: QUOTA_TIMEOUT,
        }
    }
}

/// The gate with the process environment's [`QuotaSource`]. A gate of 0 or less is off.
pub fn check_quota(gate_percent: f64) -> QuotaVerdict {
    check_quota_with(gate_percent, &QuotaSource::from_env())
}

/// The gate against `source`.
pub fn check_quota_with(gate_percent: f64, source: &QuotaSource) -> QuotaVerdict {
    if gate_percent <= 0.0 {
        return QuotaVerdict::Skipped { reason: "the gate is off (0%)".to_string(), asked: false };
    }
    let token = match access_token(source) {
        Ok(token) => token,
        Err(error) => return QuotaVerdict::Skipped { reason: format!("{error:#}"), asked: false },
    };
    match ask(source, &token) {
        Ok((used_percent, reset_after_seconds)) if used_percent >= gate_percent => {
            QuotaVerdict::Over { used_percent, reset_after_seconds }
        }
        Ok((used_percent, _)) => QuotaVerdict::Under { used_percent },
        Err(error) => QuotaVerdict::Skipped { reason: format!("{error:#}"), asked: true },
    }
}

/// `(used_percent, reset_after_seconds)` of the primary window.
fn ask(source: &QuotaSource, token: &str) -> anyhow::Result<(f64, Option<u64>)> {
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(source.timeout)).build().into();
    let body = agent
        .get(&source.url)
        .header("Authorization", &format!("Bearer {token}"))
        .header("User-Agent", concat!("git-dispatch/", env!("CARGO_PKG_VERSION")))
        .call()
        .with_context(|| format!("asking {}", source.url))?
        .body_mut()
        .read_to_string()
        .with_context(|| format!("reading the answer of {}", source.url))?;
    primary_window(&body)
}

fn access_token(source: &QuotaSource) -> anyhow::Result<String> {
    let Some(path) = &source.auth_file else {
        bail!("neither CODEX_HOME nor HOME is set");
    };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let auth: Value = serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))?;
    match auth.pointer("/tokens/access_token").and_then(Value::as_str) {
        Some(token) if !token.is_empty() => Ok(token.to_string()),
        _ => bail!("{} has no tokens.access_token", path.display()),
    }
}

/// Reads `rate_limit.primary_window.{used_percent, reset_after_seconds}`.
fn primary_window(body: &str) -> anyhow::Result<(f64, Option<u64>)> {
    let usage: Value = serde_json::from_str(body).context("the usage answer is not JSON")?;
    let window = usage.pointer("/rate_limit/primary_window");
    let used = window
        .and_then(|window| window.get("used_percent"))
        .and_then(Value::as_f64)
        .context("the usage answer has no rate_limit.primary_window.used_percent")?;
    let reset = window
        .and_then(|window| window.get("reset_after_seconds"))
        .and_then(Value::as_f64)
        .filter(|seconds| *seconds >= 0.0)
        .map(|seconds| seconds as u64);
    Ok((used, reset))
}
