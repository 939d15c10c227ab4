//! Unit tests of the MCP tools' argument parsing: the JSON a client sends, decoded as the tool
//! router decodes it (`serde_json::from_value`), and the checks beyond the types.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::*;
use rmcp::schemars;

fn parse<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value).map_err(|err| err.to_string())
}

#[test]
fn dispatch_takes_a_path_or_the_text_and_every_option() {
    let args: DispatchArgs = parse(json!({
        "packet_path": "tasks/a.md", "agent": "claude", "base": "HEAD~1", "timeout_sec": 60,
        "verify": true, "sandbox": "none", "allow": ["symlink"], "workdir": "/repo",
    }))
    .expect("all fields");
    assert_eq!(args.agent, Some(AgentArg::Claude));
    assert_eq!(args.sandbox, Some(SandboxArg::None));
    assert_eq!((args.timeout_sec, args.verify, args.allow.clone()), (Some(60), true, vec!["symlink".to_string()]));
    assert_eq!(args.source(Path::new("/repo")).expect("one source"), PacketSource::File("/repo/tasks/a.md".into()));
    let text: DispatchArgs = parse(json!({"packet": "MODE: worker\n"})).expect("text");
    assert_eq!(text.source(Path::new("/repo")).expect("text source"), PacketSource::Text("MODE: worker\n".into()));
    assert!(!text.verify && text.allow.is_empty(), "defaults");
    let absolute: DispatchArgs = parse(json!({"packet_path": "/elsewhere/p.md"})).expect("absolute");
    assert_eq!(absolute.source(Path::new("/repo")).expect("path"), PacketSource::File("/elsewhere/p.md".into()));
}

#[test]
fn dispatch_wants_exactly_one_packet_source() {
    let neither: DispatchArgs = parse(json!({})).expect("parses");
    let err = neither.source(Path::new("/r")).expect_err("no packet").to_string();
    assert!(err.contains("packet_path") && err.contains("packet"), "{err}");
    let both: DispatchArgs = parse(json!({"packet_path": "a.md", "packet": "MODE: worker"})).expect("parses");
    assert!(both.source(Path::new("/r")).expect_err("both").to_string().contains("not both"));
}

#[test]
fn wrong_types_and_unknown_fields_are_refused() {
    for (value, needle) in [
        (json!({"packet": 5}), "invalid type"),
        (json!({"packet_path": "a.md", "timeout_sec": "soon"}), "invalid type"),
        (json!({"packet_path": "a.md", "timeout_sec": -3}), "invalid value"),
        (json!({"packet_path": "a.md", "agent": "gpt"}), "unknown variant"),
        (json!({"packet_path": "a.md", "sandbox": "docker"}), "unknown variant"),
        (json!({"packet_path": "a.md", "allow": "symlink"}), "invalid type"),
        (json!({"packet_path": "a.md", "verify": "yes"}), "invalid type"),
        (json!({"packet_path": "a.md", "pakcet": "typo"}), "unknown field"),
    ] {
        let err = parse::<DispatchArgs>(value.clone()).expect_err("refused");
        assert!(err.contains(needle), "{value}: {err}");
    }
    assert!(parse::<WaitArgs>(json!({"run_ids": "one"})).expect_err("a string").contains("invalid type"));
    assert!(parse::<WaitArgs>(json!({"run_id": "one"})).expect_err("singular").contains("unknown field"));
    assert!(parse::<ApplyArgs>(json!({"merge": true})).expect_err("no run").contains("missing field `run_id`"));
    assert!(parse::<ApplyArgs>(json!({"run_id": 7})).expect_err("number").contains("invalid type"));
    assert!(parse::<ListArgs>(json!({"limit": -1})).expect_err("negative").contains("invalid value"));
}

#[test]
fn wait_is_bounded() {
    let default: WaitArgs = parse(json!({"run_ids": ["a"]})).expect("parses");
    assert_eq!(default.timeout().expect("default"), Duration::from_secs(50));
    let long: WaitArgs = parse(json!({"timeout_sec": 3600})).expect("parses");
    assert_eq!(long.timeout().expect("capped"), Duration::from_secs(55));
    let short: WaitArgs = parse(json!({"timeout_sec": 0.5, "any": true})).expect("parses");
    assert_eq!((short.timeout().expect("short"), short.any), (Duration::from_millis(500), true));
    let negative: WaitArgs = parse(json!({"timeout_sec": -1})).expect("a number");
    assert!(negative.timeout().expect_err("negative").to_string().contains("timeout_sec"));
}

#[test]
fn cancel_names_runs_or_all() {
    let none: CancelArgs = parse(json!({})).expect("parses");
    assert!(none.check().is_err());
    let both: CancelArgs = parse(json!({"run_ids": ["a"], "all": true})).expect("parses");
    assert!(both.check().expect_err("both").to_string().contains("not both"));
    let all: CancelArgs = parse(json!({"all": true, "wait_sec": 100})).expect("parses");
    all.check().expect("all alone");
    assert_eq!(all.wait_for().expect("capped"), Duration::from_secs(55));
    let named: CancelArgs = parse(json!({"run_ids": ["a"]})).expect("parses");
    assert_eq!(named.wait_for().expect("default"), Duration::from_secs(30));
}

#[test]
fn a_call_works_in_its_workdir_or_the_servers() {
    let server = Path::new("/srv/repo");
    assert_eq!(workdir_of(None, server), server);
    assert_eq!(workdir_of(Some(""), server), server);
    assert_eq!(workdir_of(Some("sub"), server), Path::new("/srv/repo/sub"));
    assert_eq!(workdir_of(Some("/other"), server), Path::new("/other"));
}

#[test]
fn schemas_describe_the_fields() {
    let schema = serde_json::to_value(schemars::schema_for!(DispatchArgs)).expect("schema");
    let properties = &schema["properties"];
    for field in ["packet_path", "packet", "workdir", "agent", "base", "timeout_sec", "verify", "sandbox", "allow"] {
        assert!(properties[field].is_object(), "{field} in {schema}");
    }
    assert!(properties["packet"]["description"].as_str().is_some_and(|d| d.contains("Markdown")));
    let apply = serde_json::to_value(schemars::schema_for!(ApplyArgs)).expect("schema");
    assert_eq!(apply["required"], json!(["run_id"]));
}
