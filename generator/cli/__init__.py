"""The docgen command line: parses options, calls generator.api, prints; the only place errors become exit codes."""

from generator.cli.commands import build_parser, main

__all__ = ["build_parser", "main"]
