"""The bag subcommands flowenedet_ros adds to the `flowenedet` command."""
