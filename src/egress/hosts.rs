//! The allow-list of the egress proxy: which `host:port` a confined agent may reach.
//!
//! Rules are `HOST[:PORT]` (the port is 443 when not given, `*` for any port), with `*.example.com`
//! for the subdomains of a domain. A run's list is built from three sources: the agent's own API
//! (and, for codex, its login) hosts ([`builtin`]); the hosts of the base URLs the user configured
//! for the agent ([`configured`]: `OPENAI_BASE_URL` and `model_providers.*.base_url` in codex's
//! `config.toml`, `ANTHROPIC_BASE_URL` in the environment or in claude's `settings.json`), each
//! with its own port; and `ALLOW HOSTS:` / `--allow-host`. Host names are compared as ASCII,
//! case-insensitively, without a trailing dot; no name is resolved to decide.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;

use crate::agent::AgentKind;

/// The port of a rule without one.
const DEFAULT_PORT: u16 = 443;

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    /// Lower case; `*.example.com` matches every subdomain of `example.com` (not itself).
    host: String,
    /// `None`: any port.
    port: Option<u16>,
}

impl HostRule {
    /// `HOST`, `HOST:PORT`, `HOST:*`, `[v6]:PORT`, `*.domain[:PORT]`.
    pub fn parse(text: &str) -> Result<HostRule, String> {
        let text = text.trim();
        let (host, port) = split_host_port(text).ok_or_else(|| format!("`{text}` is not HOST or HOST:PORT"))?;
        let port = match port {
            None => Some(DEFAULT_PORT),
            Some("*") => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|port| *port > 0)
                    .ok_or_else(|| format!("`{text}`: `{port}` is not a port (1-65535, or * for any)"))?,
            ),
        };
        let name = host.strip_prefix("*.").unwrap_or(host);
        let valid = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'))
            && !name.starts_with('.');
        if !valid {
            return Err(format!("`{text}` is not a host name or address"));
        }
        Ok(HostRule { host: normalize(host), port })
    }

    /// The host and port of a base URL (`http://127.0.0.1:4000/v1`; the scheme's port when none
    /// is given); `None` when it is no `http`/`https` URL with a host.
    pub fn from_url(url: &str) -> Option<HostRule> {
        let uri: http::Uri = url.trim().parse().ok()?;
        let port = match (uri.scheme_str()?, uri.port_u16()) {
            (_, Some(port)) => port,
            ("https", None) => 443,
            ("http", None) => 80,
            _ => return None,
        };
        let host = uri.host().filter(|host| !host.is_empty())?;
        Some(HostRule { host: normalize(host), port: Some(port) })
    }

    /// Does the rule allow `host:port`?
    pub fn allows(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|own| own != port) {
            return false;
        }
        let host = normalize(host);
        match self.host.strip_prefix("*.") {
            Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
            None => host == self.host,
        }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => write!(f, "{host}:*"),
        }
    }
}

/// `host[:port]` with an IPv6 address in brackets; the port text, if any.
fn split_host_port(text: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?))),
        };
    }
    match text.rsplit_once(':') {
        Some((host, _)) if host.contains(':') => Some((text, None)), // a bare IPv6 address
        Some((host, port)) => Some((host, Some(port))),
        None => Some((text, None)),
    }
}

/// Lower case, no brackets, no trailing dot.
pub(super) fn normalize(host: &str) -> String {
    host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.').to_ascii_lowercase()
}

/// The hosts a run's agent may reach.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<HostRule>,
}

impl AllowList {
    pub fn new(rules: impl IntoIterator<Item = HostRule>) -> AllowList {
        let mut list = AllowList::default();
        for rule in rules {
            if !list.rules.contains(&rule) {
                list.rules.push(rule);
            }
        }
        list
    }

    pub fn allows(&self, host: &str, port: u16) -> bool {
        self.rules.iter().any(|rule| rule.allows(host, port))
    }

    /// The rules as recorded (`host:port`).
    pub fn hosts(&self) -> Vec<String> {
        self.rules.iter().map(HostRule::to_string).collect()
    }
}

/// The agent CLI's own hosts: codex its API and its login (ChatGPT sign-in and its backend),
/// claude its API.
pub fn builtin(agent: AgentKind) -> Vec<HostRule> {
    let hosts: &[&str] = match agent {
        AgentKind::Codex => &["api.openai.com", "auth.openai.com", "chatgpt.com"],
        AgentKind::Claude => &["api.anthropic.com"],
    };
    hosts.iter().map(|host| HostRule { host: host.to_string(), port: Some(DEFAULT_PORT) }).collect()
}

/// The hosts of the base URLs configured for `agent`: its variable in the environment `var`
/// gives, and its configuration in the private state folder `home` (codex `config.toml`:
/// `model_providers.*.base_url`, `openai_base_url`, `chatgpt_base_url`; claude `settings.json`:
/// `env.ANTHROPIC_BASE_URL`).
pub fn configured(agent: AgentKind, var: &dyn Fn(&str) -> Option<OsString>, home: Option<&Path>) -> Vec<HostRule> {
    let mut urls: Vec<String> = Vec::new();
    let name = match agent {
        AgentKind::Codex => "OPENAI_BASE_URL",
        AgentKind::Claude => "ANTHROPIC_BASE_URL",
    };
    urls.extend(var(name).map(|value| value.to_string_lossy().into_owned()));
    if let Some(home) = home {
        match agent {
            AgentKind::Codex => urls.extend(codex_urls(&home.join("config.toml"))),
            AgentKind::Claude => urls.extend(claude_urls(&home.join("settings.json"))),
        }
    }
    urls.iter().filter_map(|url| HostRule::from_url(url)).collect()
}

/// The base URLs of codex's `config.toml` (an unreadable or invalid file has none: codex itself
/// would refuse it).
fn codex_urls(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else { return Vec::new() };
    let text_of = |value: Option<&toml::Value>| value.and_then(toml::Value::as_str).map(str::to_string);
    let mut urls: Vec<String> =
        ["openai_base_url", "chatgpt_base_url"].iter().filter_map(|key| text_of(table.get(*key))).collect();
    if let Some(providers) = table.get("model_providers").and_then(toml::Value::as_table) {
        urls.extend(providers.values().filter_map(|provider| text_of(provider.get("base_url"))));
    }
    urls
}

/// `env.ANTHROPIC_BASE_URL` of claude's `settings.json`.
fn claude_urls(path: &Path) -> Vec<String> {
    let Ok(bytes) = std::fs::read(path) else { return Vec::new() };
    let Ok(settings) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return Vec::new() };
    settings["env"]["ANTHROPIC_BASE_URL"].as_str().map(str::to_string).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_with_ports_wildcards_and_addresses() {
        let rule = |text: &str| HostRule::parse(text).expect(text).to_string();
        assert_eq!(rule("Example.COM."), "example.com:443");
        assert_eq!(rule("example.com:8080"), "example.com:8080");
        assert_eq!(rule("example.com:*"), "example.com:*");
        assert_eq!(rule("[::1]:9000"), "[::1]:9000");
        assert_eq!(rule("::1"), "[::1]:443");
        assert_eq!(rule("*.example.com"), "*.example.com:443");
        for bad in ["", "a b", "host:0", "host:70000", "host:x", "http://x", "*."] {
            assert!(HostRule::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rules_match_host_and_port() {
        let list = AllowList::new(
            ["api.example.com", "*.cdn.example.com:*", "127.0.0.1:4000"].map(|text| HostRule::parse(text).expect(text)),
        );
        assert!(list.allows("API.example.com.", 443));
        assert!(!list.allows("api.example.com", 80));
        assert!(list.allows("a.b.cdn.example.com", 8443));
        assert!(!list.allows("cdn.example.com", 443), "a wildcard covers subdomains only");
        assert!(!list.allows("evilcdn.example.com", 443));
        assert!(list.allows("127.0.0.1", 4000));
        assert!(!list.allows("127.0.0.1", 4001), "another port of an allowed host");
        assert!(!list.allows("localhost", 4000), "names are not resolved");
    }

    #[test]
    fn base_urls_give_their_host_and_port() {
        let url = |text: &str| HostRule::from_url(text).map(|rule| rule.to_string());
        assert_eq!(url("http://127.0.0.1:4000/v1").as_deref(), Some("127.0.0.1:4000"));
        assert_eq!(url("https://llm.corp.example/v1").as_deref(), Some("llm.corp.example:443"));
        assert_eq!(url("http://localhost").as_deref(), Some("localhost:80"));
        assert_eq!(url("unix:///run/x.sock"), None);
        assert_eq!(url("not a url"), None);
    }

    #[test]
    fn configured_urls_come_from_the_environment_and_the_private_configuration() {
        let home = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            home.path().join("config.toml"),
            "model = \"m\"\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"http://127.0.0.1:4711/v1\"\n\
             [model_providers.other]\nbase_url = \"https://llm.example:8443\"\n",
        )
        .expect("config.toml");
        std::fs::write(home.path().join("settings.json"), r#"{"env": {"ANTHROPIC_BASE_URL": "http://10.0.0.9:81"}}"#)
            .expect("settings.json");
        let var = |name: &str| (name == "OPENAI_BASE_URL").then(|| OsString::from("https://proxy.example/v1"));
        let shown = |rules: Vec<HostRule>| rules.iter().map(HostRule::to_string).collect::<Vec<_>>();
        assert_eq!(
            shown(configured(AgentKind::Codex, &var, Some(home.path()))),
            ["proxy.example:443", "127.0.0.1:4711", "llm.example:8443"]
        );
        assert_eq!(shown(configured(AgentKind::Claude, &|_| None, Some(home.path()))), ["10.0.0.9:81"]);
        assert!(configured(AgentKind::Codex, &|_| None, None).is_empty());
    }
}
