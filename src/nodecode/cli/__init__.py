"""The `nodecode` command line: one module per group of subcommands."""
