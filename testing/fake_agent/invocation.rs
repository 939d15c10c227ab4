//! How the fake agent was called: which CLI it poses as (codex or claude), its working directory,
//! where the structured result goes, and whether a result schema was offered.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The CLI the fake agent imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Codex,
    Claude,
}

impl Style {
    pub fn name(self) -> &'static str {
        match self {
            Style::Codex => "codex",
            Style::Claude => "claude",
        }
    }
}

/// The decoded command line.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub style: Style,
    /// Where the steps run (codex: `-C`, claude: the process cwd), absolute.
    pub cwd: PathBuf,
    /// codex `-o FILE` (relative to the process cwd, as codex resolves it).
    pub output_file: Option<PathBuf>,
    /// codex `--output-schema` or claude `--json-schema` was given.
    pub schema_offered: bool,
    /// The prompt, if one was found.
    pub prompt: Option<String>,
    /// `--version` / `-V` / `-v` was asked.
    pub version: bool,
    pub argv: Vec<String>,
}

/// codex flags that take a value (besides the ones decoded here).
const CODEX_VALUE_FLAGS: &[&str] = &[
    "-c",
    "--config",
    "--enable",
    "--disable",
    "--remote",
    "--remote-auth-token-env",
    "-i",
    "--image",
    "-m",
    "--model",
    "--local-provider",
    "-p",
    "--profile",
    "-s",
    "--sandbox",
    "--add-dir",
    "--thread-source",
    "--cyber-access-program",
    "--color",
];

/// claude flags that take a value (besides the ones decoded here).
const CLAUDE_VALUE_FLAGS: &[&str] = &[
    "--add-dir",
    "--agent",
    "--agents",
    "--append-system-prompt",
    "--allowedTools",
    "--allowed-tools",
    "--disallowedTools",
    "--disallowed-tools",
    "--betas",
    "--debug-file",
    "--effort",
    "--fallback-model",
    "--input-format",
    "--max-budget-usd",
    "--max-turns",
    "--mcp-config",
    "--model",
    "-n",
    "--name",
    "--output-format",
    "--permission-mode",
    "--plugin-dir",
    "--session-id",
    "--setting-sources",
    "--settings",
    "--system-prompt",
    "--tools",
];

/// Decides the style from `FAKE_AGENT_STYLE`, else from argv (`exec ...` => codex, `-p` => claude,
/// else the program name).
pub fn detect_style(argv: &[String], style_env: Option<&str>) -> Result<Style> {
    match style_env {
        Some("codex") => return Ok(Style::Codex),
        Some("claude") => return Ok(Style::Claude),
        Some(other) => bail!("FAKE_AGENT_STYLE must be codex or claude, not {other:?}"),
        None => {}
    }
    let args = argv.get(1..).unwrap_or_default();
    if args.first().map(String::as_str) == Some("exec") {
        return Ok(Style::Codex);
    }
    if args.iter().any(|arg| arg == "-p" || arg == "--print") {
        return Ok(Style::Claude);
    }
    let program = argv.first().map(|arg| basename(arg)).unwrap_or_default();
    if program.contains("claude") {
        Ok(Style::Claude)
    } else if program.contains("codex") {
        Ok(Style::Codex)
    } else {
        bail!("cannot tell codex from claude: give `exec ...`, `-p`, or FAKE_AGENT_STYLE")
    }
}

fn basename(arg: &str) -> String {
    Path::new(arg).file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Decodes argv for the given style; `process_cwd` resolves relative `-C` / `-o` paths.
pub fn parse(argv: Vec<String>, style: Style, process_cwd: &Path) -> Result<Invocation> {
    let mut invocation = Invocation {
        style,
        cwd: process_cwd.to_path_buf(),
        output_file: None,
        schema_offered: false,
        prompt: None,
        version: false,
        argv: argv.clone(),
    };
    let value_flags = match style {
        Style::Codex => CODEX_VALUE_FLAGS,
        Style::Claude => CLAUDE_VALUE_FLAGS,
    };
    let mut args = argv.iter().skip(1).peekable();
    if style == Style::Codex && args.peek().map(|arg| arg.as_str()) == Some("exec") {
        args.next();
    }
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = || -> Result<String> {
            match &inline_value {
                Some(value) => Ok(value.clone()),
                None => args.next().cloned().with_context(|| format!("{flag} needs a value")),
            }
        };
        match (style, flag) {
            (_, "--version" | "-V") | (Style::Claude, "-v") => invocation.version = true,
            (Style::Codex, "-C" | "--cd") => invocation.cwd = process_cwd.join(value()?),
            (Style::Codex, "-o" | "--output-last-message") => {
                invocation.output_file = Some(process_cwd.join(value()?));
            }
            (Style::Codex, "--output-schema") | (Style::Claude, "--json-schema") => {
                value()?;
                invocation.schema_offered = true;
            }
            (_, flag) if value_flags.contains(&flag) => {
                value()?;
            }
            (_, flag) if flag.starts_with('-') && flag.len() > 1 => {}
            _ => invocation.prompt = Some(arg.clone()),
        }
    }
    if let Ok(canonical) = std::fs::canonicalize(&invocation.cwd) {
        invocation.cwd = canonical;
    }
    Ok(invocation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| arg.to_string()).collect()
    }

    #[test]
    fn codex_command_line_of_the_spec_is_decoded() {
        let argv = strings(&[
            "codex",
            "exec",
            "--json",
            "--dangerously-bypass-approvals-and-sandbox",
            "-C",
            "wt",
            "--output-schema",
            "/s.json",
            "-o",
            "/run/result.json",
            "do it",
        ]);
        assert_eq!(detect_style(&argv, None).unwrap(), Style::Codex);
        let inv = parse(argv, Style::Codex, Path::new("/base")).unwrap();
        assert_eq!(inv.cwd, PathBuf::from("/base/wt"));
        assert_eq!(inv.output_file, Some(PathBuf::from("/run/result.json")));
        assert!(inv.schema_offered);
        assert_eq!(inv.prompt.as_deref(), Some("do it"));
    }

    #[test]
    fn claude_command_line_is_decoded() {
        let argv = strings(&[
            "/bin/claude",
            "-p",
            "the prompt",
            "--output-format",
            "stream-json",
            "--verbose",
            "--json-schema={}",
        ]);
        assert_eq!(detect_style(&argv, None).unwrap(), Style::Claude);
        let inv = parse(argv, Style::Claude, Path::new("/wt")).unwrap();
        assert_eq!(inv.cwd, PathBuf::from("/wt"));
        assert!(inv.schema_offered);
        assert_eq!(inv.prompt.as_deref(), Some("the prompt"));
    }

    #[test]
    fn style_falls_back_to_env_then_program_name() {
        let argv = strings(&["/x/fake-agent", "--version"]);
        assert!(detect_style(&argv, None).is_err());
        assert_eq!(detect_style(&argv, Some("claude")).unwrap(), Style::Claude);
        let argv = strings(&["/x/codex", "--version"]);
        assert_eq!(detect_style(&argv, None).unwrap(), Style::Codex);
    }
}
