"""keepalived compatibility: config parser, checks, log and dump formats."""
