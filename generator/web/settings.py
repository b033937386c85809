"""The portal's own settings, read once when the app is made: password-link lifetime and the verify upload bound."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from generator import settings


@dataclass(frozen=True)
class PortalSettings:
    """What ``DOCGEN_RESET_HOURS`` and ``DOCGEN_VERIFY_MAX_MB`` say (or their defaults)."""

    reset_ttl: dt.timedelta
    verify_max_bytes: int


def portal_settings(chosen: settings.Settings | None = None) -> PortalSettings:
    """The portal's part of ``chosen`` (default: :func:`generator.settings.current`, which names a bad variable).

    >>> portal_settings(settings.load({})).reset_ttl, portal_settings(settings.load({"DOCGEN_VERIFY_MAX_MB": "5"})).verify_max_bytes
    (datetime.timedelta(days=1), 5242880)
    """
    chosen = chosen or settings.current()
    return PortalSettings(reset_ttl=dt.timedelta(hours=chosen.reset_hours), verify_max_bytes=chosen.verify_max_mb * 2**20)
