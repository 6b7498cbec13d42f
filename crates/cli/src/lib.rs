//! The `podnet` command: one module per subcommand.
