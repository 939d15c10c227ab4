#!/usr/bin/env bash
# Copies the skill (SKILL.md, docs/, examples/) into the Claude Code plugin
# (plugins/git-dispatch/skills/git-dispatch/). The plugin holds copies, not symlinks: an installed
# plugin does not follow a symlink out of its folder. tests/plugin_claude.rs fails while they differ.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
skill=plugins/git-dispatch/skills/git-dispatch
rm -rf "$skill"
mkdir -p "$skill/docs" "$skill/examples"
cp SKILL.md "$skill/SKILL.md"
cp docs/*.md "$skill/docs/"
cp examples/*.md "$skill/examples/"
echo "sync-plugin: copied SKILL.md, docs/ and examples/ into $skill" >&2
