//! One file per subcommand; orchestration only.
