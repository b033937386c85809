"""The portal's own settings, read once when the app is made: password-link lifetime and the verify upload bound."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass

from generator.errors import InputError

RESET_HOURS = "DOCGEN_RESET_HOURS"
VERIFY_MAX_MB = "DOCGEN_VERIFY_MAX_MB"
# (default, lowest, highest): a link lives a working day by default, at most 30 days; a PDF to verify is a pack
# (about 1 MB) or a brochure, 20 MB is ample, 100 MB the most one request may spool
_BOUNDS = {RESET_HOURS: (24, 1, 720), VERIFY_MAX_MB: (20, 1, 100)}


@dataclass(frozen=True)
class PortalSettings:
    """What ``DOCGEN_RESET_HOURS`` and ``DOCGEN_VERIFY_MAX_MB`` say (or their defaults)."""

    reset_ttl: dt.timedelta
    verify_max_bytes: int


def _whole(environ: Mapping[str, str], name: str) -> int:
    default, low, high = _BOUNDS[name]
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise InputError(name, raw, f"is not a whole number from {low} to {high}", allowed=f"e.g. {default} (the default)")
    return int(raw)


def portal_settings(environ: Mapping[str, str] | None = None) -> PortalSettings:
    """The settings from ``environ`` (default: the process's); InputError naming the variable for a bad value.

    >>> portal_settings({}).reset_ttl, portal_settings({"DOCGEN_VERIFY_MAX_MB": "5"}).verify_max_bytes
    (datetime.timedelta(days=1), 5242880)
    >>> portal_settings({"DOCGEN_RESET_HOURS": "0"})
    Traceback (most recent call last):
    ...
    generator.errors.InputError: DOCGEN_RESET_HOURS: '0': is not a whole number from 1 to 720; allowed: e.g. 24 (the default)
    """
    environ = os.environ if environ is None else environ
    return PortalSettings(reset_ttl=dt.timedelta(hours=_whole(environ, RESET_HOURS)),
                          verify_max_bytes=_whole(environ, VERIFY_MAX_MB) * 2**20)
