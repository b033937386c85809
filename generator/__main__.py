"""Entry point of the ``docgen`` command and ``python -m generator``: Ctrl-C and SIGTERM are docgen's from the first instant."""

from __future__ import annotations

import gc

from generator.crash import stop_from_the_start


def main() -> int:
    """Run the docgen command line; a signal before the CLI is even loaded ends with its one line, not a traceback."""
    stop_from_the_start()
    # docgen makes small objects by the million (lxml, Jinja, pikepdf handles) and keeps most of them a while: the
    # collector's youngest generation, examined every 700 allocations by default, took 414 collections and 0.13-0.18
    # CPU-s of a 100-client batch worker's 3.4 (and 0.08 of the planning process's 0.8) to find ~10,000 objects in
    # cycles. Every 20,000 allocations: 12 collections, 0.04 CPU-s (2026-12-06). Worker processes fork from here.
    gc.set_threshold(20_000, 10, 10)
    from generator import cli  # after the handlers: importing the CLI (and what it loads) takes a moment a Ctrl-C may hit

    return cli.main()


if __name__ == "__main__":
    raise SystemExit(main())
