"""One warm LibreOffice: a helper run by the system Python (it has ``uno``), driven over stdin/stdout.

Started by :mod:`generator.documents.warm` as ``/usr/bin/python3 warm_worker.py SPEC`` in a new session; it starts
soffice as its own child, so killing the helper's process group kills soffice (oosplash, soffice.bin) too.
SPEC is JSON: ``{"cmd": [soffice, ...], "pipe": name, "log": path, "start_timeout": s}``.

Protocol, one JSON object per line. The helper says ``{"ready": true}`` once soffice answers; then per request
``{"jobs": [[docx, pdf], ...], "filter": {name: bool}, "in_filter": name}`` it converts each file and answers
``{"ok": true}`` or ``{"ok": false, "error": text, "crashed": bool}``. ``crashed`` means soffice is gone: the
helper exits and the parent starts a new one. End of stdin makes it close soffice and exit; so does SIGTERM, and so
does a parent that went away (a reply that cannot be written): soffice never outlives its helper.

This file imports only the standard library at module level: it must run under /usr/bin/python3, outside our venv,
and pytest's doctest collection imports it where ``uno`` does not exist.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

_START_RETRY = 0.05  # seconds between connection attempts while soffice starts
_EXIT_RESTART = 81  # a fresh profile's first start asks for a second one


def _reply(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _props(**values: Any) -> tuple[Any, ...]:  # UNO PropertyValues
    from com.sun.star.beans import PropertyValue

    return tuple(PropertyValue(Name=name, Value=value) for name, value in values.items())


def _connect(uno: Any, spec: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Any]:  # uno: LibreOffice's module (untyped)
    """Start soffice and connect over its named pipe; restart once on exit code 81."""
    from com.sun.star.connection import NoConnectException

    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    url = f"uno:pipe,name={spec['pipe']};urp;StarOffice.ComponentContext"
    deadline = time.monotonic() + float(spec["start_timeout"])
    log = open(spec["log"], "ab")  # noqa: SIM115 - soffice keeps writing to it for its whole life
    proc = subprocess.Popen(spec["cmd"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    restarted = False
    while time.monotonic() < deadline:
        try:
            return proc, resolver.resolve(url)
        except NoConnectException:
            code = proc.poll()
            if code is not None:
                if code != _EXIT_RESTART or restarted:
                    raise RuntimeError(f"soffice exited with code {code} while starting") from None
                restarted = True
                proc = subprocess.Popen(spec["cmd"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            time.sleep(_START_RETRY)
    raise RuntimeError(f"soffice did not answer within {spec['start_timeout']}s")


def _alive(desktop: Any) -> bool:
    try:
        desktop.getFrames()
        return True
    except Exception:  # DisposedException, RuntimeException: the bridge or soffice is gone
        return False


def _convert(uno: Any, desktop: Any, jobs: list[tuple[str, str]], filter_options: dict[str, Any], in_filter: str) -> None:
    data = uno.Any("[]com.sun.star.beans.PropertyValue", _props(**filter_options))
    # MacroExecutionMode 0 = never; UpdateDocMode 0 = no link updates (as the cold path's hardened profile)
    load = _props(Hidden=True, ReadOnly=True, FilterName=in_filter, MacroExecutionMode=0, UpdateDocMode=0)
    store = _props(FilterName="writer_pdf_Export", Overwrite=True, FilterData=data)
    for source, target in jobs:
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(source), "_blank", 0, load)
        if doc is None:
            raise RuntimeError(f"{source}: LibreOffice could not load it as {in_filter}")
        try:
            doc.storeToURL(uno.systemPathToFileUrl(target), store)
        finally:
            doc.close(True)


def main() -> int:
    spec = json.loads(sys.argv[1])
    try:
        import uno
    except ImportError:
        _reply({"ready": False, "error": f"{sys.executable} has no 'uno' module (Debian: apt-get install python3-uno)"})
        return 2
    try:
        proc, ctx = _connect(uno, spec)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    except Exception as exc:
        _reply({"ready": False, "error": str(exc)})
        return 1
    # SIGTERM (a supervisor stopping this helper alone) unwinds through the finally below like the end of stdin does
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        _reply({"ready": True, "soffice": proc.pid})
        return _serve(uno, desktop)
    except BrokenPipeError:  # the parent died (killed mid-conversion or while this started): nobody reads replies
        return 1
    finally:
        _close(proc, desktop)


def _serve(uno: Any, desktop: Any) -> int:
    for line in sys.stdin:
        request = json.loads(line)
        try:
            _convert(uno, desktop, request["jobs"], request["filter"], request["in_filter"])
        except Exception as exc:
            crashed = not _alive(desktop)
            _reply({"ok": False, "error": f"{type(exc).__name__}: {exc}".strip(), "crashed": crashed})
            if crashed:
                return 1
        else:
            _reply({"ok": True})
    return 0


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _close(proc: subprocess.Popen[bytes], desktop: Any) -> None:
    """Close soffice, then stop whatever of this helper's process group is left.

    The parent kills the group when it closes an instance, but a parent that died (SIGKILL, a test server torn down)
    never does: soffice.bin, under oosplash, would be re-parented to init and run on with its profile.
    """
    with contextlib.suppress(Exception):  # already going away
        desktop.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(os.getpgrp(), signal.SIGTERM)  # this helper leads its own session (warm.py starts it so)


if __name__ == "__main__":
    sys.exit(main())
