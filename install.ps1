# git-dispatch installer for PowerShell 7 on Linux: the binary, the Claude Code skill, and the
# seed's entry point. The PowerShell twin of install.sh. git-dispatch runs on Linux only (its
# sandbox is bubblewrap / Landlock, its change journal inotify): on Windows or macOS this script
# stops with that one line (on Windows, run install.sh inside WSL).
#
#   .\install.ps1         from a checkout: cargo install --locked --path . --bin git-dispatch
#   $env:GIT_DISPATCH_REPO_URL = '<git URL>'; iwr -useb .../install.ps1 | iex
#                         from anywhere: clones the repository (depth 1), then the same
#
# What it installs (running it again updates all of it in place):
#   $env:CARGO_HOME\bin\git-dispatch.exe (default ~\.cargo)   on PATH, so that `git dispatch` works
#   $env:CLAUDE_SKILLS_DIR\git-dispatch\ (default ~\.claude\skills)   SKILL.md, examples\, docs\
#   ...\skills\claude-codex-dispatch\bin\codex-dispatch.cmd (and bin\codex-dispatch for Git Bash)
#                         the old entry point, now running git-dispatch with the same flags
# An older Python claude-codex-dispatch found there is moved aside, not deleted.
#
# Environment: CLAUDE_SKILLS_DIR, CARGO_HOME, GIT_DISPATCH_REPO_URL, GIT_DISPATCH_REF, and
# GIT_DISPATCH_INSTALL_SKIP_BUILD=1 with GIT_DISPATCH_BINARY=<path> to copy a prebuilt binary
# instead of running cargo (tests, packagers). Requirements: git and cargo (https://rustup.rs).
# Optional: codex and/or claude, the agent CLIs (`git dispatch demo` works without them).

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version 2.0

function Say([string]$Message) { Write-Host $Message }
function Warn([string]$Message) { Write-Warning $Message }
# Stops the installation: the message is printed once at the end (no `exit`, which would close the
# session of `iwr ... | iex`).
function Die([string]$Message) { throw $Message }
function Have([string]$Name) { [bool](Get-Command $Name -ErrorAction SilentlyContinue) }

$OnWindows = ($env:OS -eq 'Windows_NT')
$OnLinux = [bool](Get-Variable IsLinux -ValueOnly -ErrorAction SilentlyContinue)
if (-not $OnLinux) {
    throw 'git-dispatch runs on Linux only (bubblewrap/Landlock sandbox, inotify); on Windows, install it inside WSL with install.sh'
}
$UserHome = if ($env:USERPROFILE) { $env:USERPROFILE } else { $HOME }
$InstallRoot = if ($env:CARGO_HOME) { $env:CARGO_HOME } else { Join-Path $UserHome '.cargo' }
$CargoBin = Join-Path $InstallRoot 'bin'
$ExeName = if ($OnWindows) { 'git-dispatch.exe' } else { 'git-dispatch' }
$Binary = Join-Path $CargoBin $ExeName
$SkillsDir = if ($env:CLAUDE_SKILLS_DIR) { $env:CLAUDE_SKILLS_DIR } else { Join-Path (Join-Path $UserHome '.claude') 'skills' }
$SkillDir = Join-Path $SkillsDir 'git-dispatch'
$SeedDir = Join-Path $SkillsDir 'claude-codex-dispatch'
$Mark = '.installed-by-git-dispatch'
$SkipBuild = ($env:GIT_DISPATCH_INSTALL_SKIP_BUILD -eq '1')
$script:TempSource = $null

function Test-Prerequisites {
    if (-not (Have 'git')) { Die 'git is required but is not on PATH: install git (https://git-scm.com), then run this again' }
    if (-not $SkipBuild -and -not (Have 'cargo')) {
        Die 'cargo is required to build git-dispatch but is not on PATH: install Rust (https://rustup.rs), then run this again'
    }
    $agents = 0
    if (Have 'codex') { $agents++ } else { Warn 'codex is not on PATH: to dispatch to Codex, npm install -g @openai/codex' }
    if (Have 'claude') { $agents++ } else { Warn 'claude is not on PATH: to dispatch to Claude Code, npm install -g @anthropic-ai/claude-code' }
    if ($agents -eq 0) { Warn 'no agent CLI found: `git dispatch demo` works, real dispatches need codex or claude' }
}

function Test-Checkout([string]$Dir) {
    $cargoToml = Join-Path $Dir 'Cargo.toml'
    $skill = Join-Path $Dir 'SKILL.md'
    if (-not (Test-Path -LiteralPath $cargoToml -PathType Leaf)) { return $false }
    if (-not (Test-Path -LiteralPath $skill -PathType Leaf)) { return $false }
    return [bool](Select-String -LiteralPath $cargoToml -Pattern '^name = "git-dispatch"' -Quiet)
}

# This script's checkout, or a fresh clone of GIT_DISPATCH_REPO_URL.
function Find-Source {
    if ($PSScriptRoot -and (Test-Checkout $PSScriptRoot)) { return $PSScriptRoot }
    if (-not $env:GIT_DISPATCH_REPO_URL) {
        Die 'not run from a git-dispatch checkout: run .\install.ps1 in a clone of the repository, or set GIT_DISPATCH_REPO_URL to clone one'
    }
    $script:TempSource = Join-Path ([IO.Path]::GetTempPath()) ('git-dispatch-src.' + [Guid]::NewGuid().ToString('N'))
    $clone = Join-Path $script:TempSource 'git-dispatch'
    Say "Cloning $env:GIT_DISPATCH_REPO_URL"
    $cloneArgs = @('clone', '-q', '--depth', '1')
    if ($env:GIT_DISPATCH_REF) { $cloneArgs += @('--branch', $env:GIT_DISPATCH_REF) }
    & git @cloneArgs $env:GIT_DISPATCH_REPO_URL $clone | Out-Host
    if ($LASTEXITCODE -ne 0) { Die 'git clone failed' }
    if (-not (Test-Checkout $clone)) { Die "$env:GIT_DISPATCH_REPO_URL is not a git-dispatch repository" }
    return $clone
}

function Install-Binary([string]$Source) {
    if ($SkipBuild) {
        if (-not $env:GIT_DISPATCH_BINARY) { Die 'GIT_DISPATCH_INSTALL_SKIP_BUILD=1 needs GIT_DISPATCH_BINARY=<path to git-dispatch>' }
        if (-not (Test-Path -LiteralPath $env:GIT_DISPATCH_BINARY -PathType Leaf)) {
            Die "GIT_DISPATCH_BINARY=$env:GIT_DISPATCH_BINARY is not a file"
        }
        New-Item -ItemType Directory -Force -Path $CargoBin | Out-Null
        Say "Installing the prebuilt $env:GIT_DISPATCH_BINARY as $Binary"
        $staging = Join-Path $CargoBin ".git-dispatch.new.$PID"
        Copy-Item -LiteralPath $env:GIT_DISPATCH_BINARY -Destination $staging -Force
        Move-Item -LiteralPath $staging -Destination $Binary -Force
        if (-not $OnWindows) { & chmod 755 $Binary }
    } else {
        Say "Building: cargo install --locked --path $Source --bin git-dispatch --root $InstallRoot"
        & cargo install --locked --path $Source --bin git-dispatch --root $InstallRoot | Out-Host
        if ($LASTEXITCODE -ne 0) { Die 'cargo install failed (see above)' }
    }
}

function Test-OnPath {
    $found = Get-Command 'git-dispatch' -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
    if ($found -and ([IO.Path]::GetFullPath($found.Source) -eq [IO.Path]::GetFullPath($Binary))) {
        Say "git-dispatch is on PATH ($($found.Source)), so ``git dispatch`` works"
    } elseif ($found) {
        Warn "another git-dispatch comes first on PATH: $($found.Source). Put $CargoBin before it, or remove it."
    } else {
        Warn "$CargoBin is not on PATH, so ``git dispatch`` cannot find git-dispatch yet. Add it for your user with:"
        if ($OnWindows) {
            Say "    [Environment]::SetEnvironmentVariable('Path', '$CargoBin;' + [Environment]::GetEnvironmentVariable('Path', 'User'), 'User')"
            Say '    # then open a new terminal'
        } else {
            Say "    echo 'export PATH=`"$CargoBin`:`$PATH`"' >> ~/.profile    # then open a new shell"
        }
    }
}

# Moves a folder this installer did not make out of the way, keeping it, and stops Claude Code from
# loading its SKILL.md.
function Set-Aside([string]$Dir) {
    $backup = "$Dir.backup-" + (Get-Date -Format 'yyyyMMddHHmmss')
    Move-Item -LiteralPath $Dir -Destination $backup
    $skill = Join-Path $backup 'SKILL.md'
    if (Test-Path -LiteralPath $skill) { Move-Item -LiteralPath $skill -Destination "$skill.disabled" }
    Warn "moved the existing $Dir to $backup (its SKILL.md renamed SKILL.md.disabled)"
}

# Replaces $Target with the folder $Staging, setting aside a target that is not ours.
function Set-Folder([string]$Staging, [string]$Target) {
    if ((Test-Path -LiteralPath $Target) -and -not (Test-Path -LiteralPath (Join-Path $Target $Mark))) { Set-Aside $Target }
    New-Item -ItemType File -Force -Path (Join-Path $Staging $Mark) | Out-Null
    if (Test-Path -LiteralPath $Target) { Remove-Item -LiteralPath $Target -Recurse -Force }
    Move-Item -LiteralPath $Staging -Destination $Target
}

function New-Staging([string]$Name) {
    $staging = Join-Path $SkillsDir ".$Name.new.$PID"
    if (Test-Path -LiteralPath $staging) { Remove-Item -LiteralPath $staging -Recurse -Force }
    New-Item -ItemType Directory -Force -Path $staging | Out-Null
    return $staging
}

function Install-Skill([string]$Source) {
    New-Item -ItemType Directory -Force -Path $SkillsDir | Out-Null
    $staging = New-Staging 'git-dispatch'
    Copy-Item -LiteralPath (Join-Path $Source 'SKILL.md') -Destination $staging
    Copy-Item -LiteralPath (Join-Path $Source 'examples') -Destination (Join-Path $staging 'examples') -Recurse
    Copy-Item -LiteralPath (Join-Path $Source 'docs') -Destination (Join-Path $staging 'docs') -Recurse
    $changelog = Join-Path $Source 'CHANGELOG.md'
    if (Test-Path -LiteralPath $changelog) { Copy-Item -LiteralPath $changelog -Destination $staging }
    Set-Folder $staging $SkillDir
    Say "Installed the Claude Code skill in $SkillDir"
}

# Writes text with the given line ending and no byte-order mark.
function Write-Text([string]$Path, [string[]]$Lines, [string]$Eol) {
    [IO.File]::WriteAllText($Path, (($Lines -join $Eol) + $Eol), (New-Object Text.UTF8Encoding $false))
}

function Install-SeedEntryPoint {
    $staging = New-Staging 'claude-codex-dispatch'
    $bin = Join-Path $staging 'bin'
    New-Item -ItemType Directory -Force -Path $bin | Out-Null
    Write-Text (Join-Path $bin 'codex-dispatch.cmd') @(
        '@echo off',
        'rem codex-dispatch: the claude-codex-dispatch entry point, kept by the git-dispatch installer.',
        'rem It runs git-dispatch with the same arguments (codex-dispatch --task F [--dry-run] ...).',
        'setlocal',
        "set `"GIT_DISPATCH_EXE=$Binary`"",
        'if not exist "%GIT_DISPATCH_EXE%" set "GIT_DISPATCH_EXE=git-dispatch"',
        '"%GIT_DISPATCH_EXE%" %*',
        'exit /b %ERRORLEVEL%'
    ) "`r`n"
    $posixBinary = ($Binary -replace '\\', '/') -replace "'", "'\''"
    $shWrapper = Join-Path $bin 'codex-dispatch'
    Write-Text $shWrapper @(
        '#!/bin/sh',
        '# codex-dispatch: the claude-codex-dispatch entry point, kept by the git-dispatch installer.',
        '# It runs git-dispatch with the same arguments (codex-dispatch --task F [--dry-run] ...).',
        "installed='$posixBinary'",
        'if [ -x "$installed" ]; then exec "$installed" "$@"; fi',
        'exec git-dispatch "$@"'
    ) "`n"
    if (-not $OnWindows) { & chmod 755 $shWrapper }
    Write-Text (Join-Path $staging 'README.md') @(
        '# claude-codex-dispatch (compatibility entry point)',
        '',
        'This folder only keeps the old entry point `bin/codex-dispatch` working: it runs',
        '`git-dispatch` with the same flags. The skill itself is `../git-dispatch/SKILL.md`.'
    ) "`n"
    Set-Folder $staging $SeedDir
    Say "Kept the seed's entry point: $(Join-Path $SeedDir 'bin')\codex-dispatch"
}

function Test-Smoke {
    $version = & $Binary --version
    if ($LASTEXITCODE -ne 0) { Die "smoke test failed: $Binary --version" }
    Say "Smoke test: $version"
    $savedPath = $env:PATH
    try {
        $env:PATH = $CargoBin + [IO.Path]::PathSeparator + $env:PATH
        & git dispatch --version | Out-Null
        if ($LASTEXITCODE -ne 0) { Die "smoke test failed: git dispatch --version (with $CargoBin on PATH)" }
        Say 'Smoke test: git dispatch --version works'
    } finally {
        $env:PATH = $savedPath
    }
    $entry = if ($OnWindows) { Join-Path $SeedDir 'bin\codex-dispatch.cmd' } else { Join-Path $SeedDir 'bin/codex-dispatch' }
    & $entry --version | Out-Null
    if ($LASTEXITCODE -ne 0) { Die "smoke test failed: $entry --version" }
}

$failed = $false
try {
    Test-Prerequisites
    $source = Find-Source
    Install-Binary $source
    Install-Skill $source
    Install-SeedEntryPoint
    Test-Smoke
    Test-OnPath
    Say ''
    Say 'Done. Next:'
    Say '  git dispatch demo       a full dispatch with a built-in replay agent (no API key)'
    Say '  git dispatch doctor     what is installed and usable'
    Say "  Get-Content $(Join-Path $SkillDir 'SKILL.md')"
    Say 'Restart Claude Code to pick up the skill.'
    Say ''
    Say 'Or use the Claude Code plugin instead of the plain skill (the same skill, the MCP tools and the'
    Say "/dispatch commands; remove $SkillDir first so the skill is not loaded twice):"
    $marketplace = if ($script:TempSource) { $env:GIT_DISPATCH_REPO_URL } else { $source }
    Say "  claude plugin marketplace add $marketplace"
    Say '  claude plugin install git-dispatch@git-dispatch'
    Say 'Other MCP clients: run `git-dispatch mcp` (README: "Use from an agent").'
} catch {
    [Console]::Error.WriteLine("error: $($_.Exception.Message)")
    $failed = $true
} finally {
    if ($script:TempSource -and (Test-Path -LiteralPath $script:TempSource)) {
        Remove-Item -LiteralPath $script:TempSource -Recurse -Force
    }
}
if ($failed -and $PSCommandPath) { exit 1 }
