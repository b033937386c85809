"""Entry point of the ``docgen`` command and ``python -m generator``: Ctrl-C and SIGTERM are docgen's from the first instant."""

from __future__ import annotations

from generator.crash import stop_from_the_start


def main() -> int:
    """Run the docgen command line; a signal before the CLI is even loaded ends with its one line, not a traceback."""
    stop_from_the_start()
    from generator import cli  # after the handlers: importing the CLI (and what it loads) takes a moment a Ctrl-C may hit

    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
