//! The prompt sent to the agent (prompt.md) and the result JSON schema shipped inside the binary.

use crate::packet::{Mode, Packet};

/// The result schema (`result.schema.json` in every run folder), as the seed's.
pub const RESULT_SCHEMA: &str = include_str!("../assets/result.schema.json");

/// The role policy of a mode: what the agent may and may not do.
pub fn role_policy(mode: Mode) -> &'static str {
    match mode {
        Mode::Worker => {
            "You may modify files only inside WRITE SCOPE. Do not touch files outside scope. \
             Every changed path is checked against WRITE SCOPE after you exit; one path outside it \
             discards the whole result."
        }
        Mode::Verifier => {
            "Read-only contract. Do not modify files. Run commands only to gather evidence, and quote \
             that evidence; never rationalize success."
        }
        Mode::Reviewer => {
            "Read-only contract. Do not modify files. Produce findings first with severity and \
             file/line references when possible."
        }
        Mode::Synthesizer => {
            "Read-only contract. Do not modify files. Preserve disagreements instead of flattening \
             them into consensus."
        }
    }
}

const WORKSPACE_NOTE: &str = "You are working in an isolated git worktree on a scratch branch, created for this task. \
When you exit, git-dispatch snapshots the worktree, computes the exact set of changed paths itself and \
checks it against the contract; your own claims are compared with it, not trusted. You do not need to \
commit: git-dispatch commits for you (your own `git commit` may fail, because the shared git directory \
can be read-only). Do not change git configuration, hooks, refs or other branches. Files ignored by git \
are not part of the result.";

const RESULT_FORMAT: &str = "Return final output as JSON matching the provided schema \
(result: done | blocked | partial | findings-only, summary, changed_files, verification_run, evidence, \
findings, risks, next). Use concise strings. List every file you changed, relative to the working \
directory, in changed_files. Include command evidence under verification_run and evidence.";

/// Render the prompt for a packet. `packet_text` is the packet verbatim.
pub fn render(packet: &Packet, packet_text: &str) -> String {
    let list = |items: &[String]| serde_json::to_string_pretty(items).expect("a list of strings always serializes");
    let mut prompt = format!(
        "You are a coding agent running as an orchestrator-delegated {mode}.\n\n\
         ROLE POLICY:\n{policy}\n\n\
         WORKSPACE:\n{WORKSPACE_NOTE}\n\n\
         OBJECTIVE:\n{objective}\n\n\
         WRITE SCOPE:\n{scope}\n\n\
         NON-GOALS:\n{non_goals}\n\n\
         VERIFICATION REQUESTS:\n{verification}\n\n\
         DELIVERABLE:\n{deliverable}\n\n",
        mode = packet.mode,
        policy = role_policy(packet.mode),
        objective = packet.objective,
        scope = list(&packet.write_scope),
        non_goals = list(&packet.non_goals),
        verification = list(&packet.verification),
        deliverable = packet.deliverable,
    );
    if let Some(context) = &packet.context {
        prompt.push_str(&format!("CONTEXT:\n{context}\n\n"));
    }
    prompt.push_str(&format!(
        "TASK PACKET:\n```markdown\n{}\n```\n\nRESULT FORMAT:\n{RESULT_FORMAT}\n",
        packet_text.trim_end()
    ));
    prompt
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_valid_json_with_the_seed_fields() {
        let schema: serde_json::Value = serde_json::from_str(RESULT_SCHEMA).expect("valid JSON");
        let required: Vec<&str> =
            schema["required"].as_array().expect("array").iter().map(|v| v.as_str().expect("string")).collect();
        assert_eq!(
            required,
            ["result", "summary", "changed_files", "verification_run", "evidence", "findings", "risks", "next"]
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn prompt_has_every_section_in_order() {
        let text = "MODE: reviewer\nWORKDIR: .\nOBJECTIVE: Review it.\nWRITE SCOPE: none\nNON-GOALS:\n- no edits\nVERIFICATION:\n- cargo test\nDELIVERABLE: findings\nCONTEXT: see PR 4\n";
        let packet = crate::packet::parse(text).expect("valid");
        let prompt = render(&packet, text);
        let sections = [
            "orchestrator-delegated reviewer",
            "ROLE POLICY:\nRead-only contract",
            "WORKSPACE:",
            "OBJECTIVE:\nReview it.",
            "WRITE SCOPE:\n[]",
            "NON-GOALS:\n[\n  \"no edits\"\n]",
            "VERIFICATION REQUESTS:\n[\n  \"cargo test\"\n]",
            "DELIVERABLE:\nfindings",
            "CONTEXT:\nsee PR 4",
            "TASK PACKET:\n```markdown\nMODE: reviewer",
            "RESULT FORMAT:",
        ];
        let mut at = 0;
        for section in sections {
            let found =
                prompt[at..].find(section).unwrap_or_else(|| panic!("{section:?} after byte {at} in:\n{prompt}"));
            at += found + section.len();
        }
    }

    #[test]
    fn every_mode_has_its_policy() {
        assert!(role_policy(Mode::Worker).contains("inside WRITE SCOPE"));
        for mode in [Mode::Verifier, Mode::Reviewer, Mode::Synthesizer] {
            assert!(role_policy(mode).starts_with("Read-only contract"));
        }
        assert!(role_policy(Mode::Synthesizer).contains("disagreements"));
    }
}
