"""The `flowenedet` command line: one module per subcommand, `main` dispatches."""
