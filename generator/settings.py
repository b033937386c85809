"""Every ``DOCGEN_*`` environment variable, read and checked once into one typed, frozen :class:`Settings`."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from generator.errors import SettingError

PREFIX = "DOCGEN_"
HTTPS_MODES = ("auto", "always", "off")
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")  # the Dask comms a scheduler listens on across machines
SCHEDULER_ALLOWED = "[tcp://]HOST:PORT, e.g. tcp://10.0.0.5:8786"
_ADDRESS = re.compile(r"^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):(?P<port>[0-9]{1,5})/?$")
SMTP_PORTS = {"smtp": 587, "smtps": 465}
SMTP_ALLOWED = "smtp://[user:password@]host[:port] (STARTTLS), smtps://… (TLS), smtp://host:25?starttls=off (no TLS)"


def scheduler_problem(address: str) -> tuple[str, str] | None:
    """(reason, allowed) when ``address`` is no Dask scheduler address (``[tcp://]HOST:PORT``), else None.

    >>> scheduler_problem("tcp://10.0.0.5:8786"), scheduler_problem("tls://[::1]:8786"), scheduler_problem("h:99999")[0]
    (None, None, 'port 99999 is out of range')
    """
    found = _ADDRESS.match(address.strip())
    if found is None:
        return "not a Dask scheduler address", SCHEDULER_ALLOWED
    scheme = (found["scheme"] or "tcp").lower()
    if scheme not in SCHEDULER_SCHEMES:
        return f"unknown scheme {scheme!r}", f"{SCHEDULER_ALLOWED} (schemes: {', '.join(SCHEDULER_SCHEMES)})"
    if not 0 < int(found["port"]) < 65536:
        return f"port {int(found['port'])} is out of range", SCHEDULER_ALLOWED
    return None


def hide_password(url: str) -> str:
    """``url`` as it may be printed: the password replaced.

    >>> hide_password("smtp://u:secret@relay:587")
    'smtp://u:***@relay:587'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


@dataclass(frozen=True)
class MailSettings:
    """Where and how mail is sent: ``smtps`` is TLS from the first byte, ``smtp`` upgrades with STARTTLS (required)
    unless ``starttls`` is off (a relay on this machine or a trusted network; then no credentials may be sent)."""

    scheme: str
    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = True
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def relay(self) -> str:
        """The relay as people name it, never with the password.

        >>> MailSettings("smtp", "relay.example.jp", 587, "a@example.jp", "u", "secret").relay
        'smtp://relay.example.jp:587'
        """
        return f"{self.scheme}://{self.host}:{self.port}"


def _bad(name: str, raw: str, reason: str, allowed: str = "") -> SettingError:
    return SettingError(name, f"{raw!r}: {reason}", allowed)


# Each parser turns a set, non-empty value into its typed form or raises ValueError(reason, allowed).
def _path(raw: str) -> Path:
    return Path(raw.strip()).expanduser()


def _text(raw: str) -> str:
    return raw.strip()


def _secret(raw: str) -> str:
    return raw  # a password is taken as written, spaces and all


def _seconds(high: float = math.inf, allowed: str = "a number > 0, e.g. 120") -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not (0 < value <= high and math.isfinite(value)):
            raise ValueError("is not a number of seconds", allowed)
        return value
    return parse


def _whole(low: int, high: int, allowed: str, reason: str = "") -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.strip().isdigit() or not low <= int(raw) <= high:
            raise ValueError(reason or (f"is not a whole number from {low} to {high}" if high < 10**9 else f"is not a whole number >= {low}"), allowed)
        return int(raw)
    return parse


def _https(raw: str) -> str:
    mode = raw.strip().lower()
    if mode not in HTTPS_MODES:
        raise ValueError("is not an HTTPS mode", ", ".join(HTTPS_MODES))
    return mode


def _language(raw: str) -> str:
    """``ja_JP.UTF-8`` → ``ja``: the language code; generator.i18n falls back to English for one it does not speak."""
    return raw.strip().lower().replace("-", "_").split("_")[0].split(".")[0]


def _scheduler(raw: str) -> str:
    problem = scheduler_problem(raw)
    if problem:
        raise ValueError(*problem)
    return raw.strip()


def _public_url(raw: str) -> str:
    url = raw.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("is not the portal's base URL", "e.g. https://portal.agency.example.jp")
    return url


def _ca_file(raw: str) -> Path:
    path = _path(raw)
    if not path.is_file():
        raise ValueError("is not a readable PEM file of the CA(s) that signed the relay's certificate", "")
    return path


def _var(name: str, default: Any, shown: str, what: str, parse: Callable[[str], Any] = _text) -> Any:
    """A field read from ``name``: ``default`` when unset or empty; ``shown`` and ``what`` are the README's columns."""
    return dataclasses.field(default=default, metadata={"env": name, "default": shown, "what": what, "parse": parse})


def _folder(name: str, shown: str, what: str) -> Any:
    return _var(name, None, shown, what, _path)


@dataclass(frozen=True)
class Settings:
    """What the ``DOCGEN_*`` variables say, each typed and checked (defaults where unset): see :func:`variables`."""

    # folders (the command line's options win over them: generator.site.Site.from_env)
    content: Path | None = _folder("DOCGEN_CONTENT", "`content/` of this checkout, else of the current folder", "the product content (YAML)")
    templates: Path | None = _folder("DOCGEN_TEMPLATES", "`templates/` beside `content/`", "the Word templates")
    outputs: Path | None = _folder("DOCGEN_OUTPUTS", "`outputs/` beside `content/`", "the published outputs and their manifest")
    cache: Path | None = _folder("DOCGEN_CACHE", "`.cache/` in the outputs folder (a Dask worker: `docgen-cache-UID` in the temp folder)",
                                 "layouts made once per content version (brochure, static pages)")
    proposals: Path | None = _folder("DOCGEN_PROPOSALS", "`proposals/` in the outputs folder", "the agents' proposal packs")
    storage: Path | None = _folder("DOCGEN_STORAGE", "`storage/` beside `content/`", "the portal's files, named by ledger id, and "
                                   "`audit-head.json`, the audit log's head anchored outside the database (`docs/compliance.md`)")
    crash_dir: Path | None = _folder("DOCGEN_CRASH_DIR", "`docgen-crash/` in the temp folder", "where an internal error's crash log (the traceback) is written")
    lang: str = _var("DOCGEN_LANG", "", "English", "the command line's language: `ja` (or `ja_JP.UTF-8`…) for Japanese; others are English",
                     _language)
    # LibreOffice and templates
    soffice: str = _var("DOCGEN_SOFFICE", "", "`soffice` or `libreoffice` on `PATH`", "the LibreOffice executable")
    uno_python: str = _var("DOCGEN_UNO_PYTHON", "", "the system `python3`, if it can `import uno`",
                           "the Python that runs the warm converter's UNO helper (the portal's LibreOffice)")
    timeout: float | None = _var("DOCGEN_TIMEOUT", None, "sized to the run: 20 s + 1 s a document, 30–300 s (the brochure and wording 180 s)",
                                 "seconds one LibreOffice run may take before it is killed (`--timeout` wins)", _seconds())
    template_timeout: float = _var("DOCGEN_TEMPLATE_TIMEOUT", 30.0, "30", "seconds one template may take to render (its time budget)",
                                   _seconds(allowed="a number > 0, e.g. 30"))
    # database, cluster, signing
    database_url: str = _var("DOCGEN_DATABASE_URL", "", "SQLite `docgen.sqlite3` under `DOCGEN_STORAGE`",
                             "the portal's and the approval database (`postgresql+psycopg://USER@HOST[:PORT]/DB` for PostgreSQL)")
    scheduler: str = _var("DOCGEN_SCHEDULER", "", "none (a local run)", "the Dask scheduler `docgen proposals` runs a client list on "
                          "(`--scheduler` wins)", _scheduler)
    signing_key: Path | None = _folder("DOCGEN_SIGNING_KEY", "none (packs are not signed)", "the PEM private key that signs packs from an approved version")
    signing_cert: Path | None = _folder("DOCGEN_SIGNING_CERT", "none", "the PEM certificate of `DOCGEN_SIGNING_KEY`")
    signing_chain: Path | None = _folder("DOCGEN_SIGNING_CHAIN", "none", "PEM intermediates sent with the signature")
    signing_pkcs12: Path | None = _folder("DOCGEN_SIGNING_PKCS12", "none", "a PKCS#12 file (.p12/.pfx) with key and certificate, instead of the two PEMs")
    signing_passphrase: str = _var("DOCGEN_SIGNING_PASSPHRASE", "", "none", "the signing key's passphrase, if it has one", _secret)
    signing_trust: Path | None = _folder("DOCGEN_SIGNING_TRUST", "none (a signature is reported \"not trusted\")",
                                         "PEM of the CA(s) `docgen verify` and the portal trust as signers")
    # the portal
    argon2_time_cost: int | None = _var("DOCGEN_ARGON2_TIME_COST", None, "3", "Argon2id passes for new password hashes",
                                        _whole(1, 2**32 - 1, "e.g. 3 (the default)"))
    argon2_memory_kib: int | None = _var("DOCGEN_ARGON2_MEMORY_KIB", None, "65536 (64 MiB)", "Argon2id memory per hash, in KiB (at least 8 per lane)",
                                         _whole(1, 2**32 - 1, "e.g. 65536 (the default)"))
    argon2_parallelism: int | None = _var("DOCGEN_ARGON2_PARALLELISM", None, "4", "Argon2id lanes", _whole(1, 2**24 - 1, "e.g. 4 (the default)"))
    smtp_url: str = _var("DOCGEN_SMTP_URL", "", "none (sending fails, saying so, and is kept for a retry)",
                         "the relay for delivery mails: `smtp://[user:password@]host[:port]` upgrades with STARTTLS and refuses to send if the "
                         "relay does not offer it (port 587 by default); `smtps://host[:port]` is TLS from the first byte (465); "
                         "`smtp://host:25?starttls=off` talks plain SMTP to a relay on this machine or a trusted network (no credentials allowed "
                         "then). User and password in the URL are percent-encoded", _secret)
    smtp_user: str = _var("DOCGEN_SMTP_USER", "", "from the URL", "the relay login, kept out of the URL (wins over the URL's)", _secret)
    smtp_password: str = _var("DOCGEN_SMTP_PASSWORD", "", "from the URL", "the relay password, kept out of the URL (wins over the URL's)", _secret)
    mail_from: str = _var("DOCGEN_MAIL_FROM", "", "required with `DOCGEN_SMTP_URL`", "the From address of delivery mails "
                          "(`\"さくら保険サービス\" <docgen@agency.example.jp>` works); replies go to the agent (Reply-To)")
    smtp_ca_file: Path | None = _var("DOCGEN_SMTP_CA_FILE", None, "the system's CAs", "a PEM file of the CA(s) that signed the relay's certificate "
                                     "(a private relay)", _ca_file)
    smtp_timeout: float = _var("DOCGEN_SMTP_TIMEOUT", 30.0, "30", "seconds to wait for the relay before the send counts as failed",
                               _seconds(600, "more than 0, at most 600"))
    delivery_days: int = _var("DOCGEN_DELIVERY_DAYS", 14, "14", "how many days a client's download link works (1–90)",
                              _whole(1, 90, "1 to 90 (default 14)", "is not a whole number of days"))
    public_url: str = _var("DOCGEN_PUBLIC_URL", "", "the address the agent's browser used", "the portal's address as clients reach it, for the link "
                           "in the mail (e.g. `https://portal.agency.example.jp` behind a proxy)", _public_url)
    reset_hours: int = _var("DOCGEN_RESET_HOURS", 24, "24", "hours a password link issued by an admin stays valid (1–720; single use either way)",
                            _whole(1, 720, "e.g. 24 (the default)"))
    verify_max_mb: int = _var("DOCGEN_VERIFY_MAX_MB", 20, "20", "largest PDF the portal's verify page accepts, in MB (1–100); bigger uploads answer 413",
                              _whole(1, 100, "e.g. 20 (the default)"))
    https: str = _var("DOCGEN_HTTPS", "auto", "`auto`", "`auto`: a request that came over https (directly, or through a trusted proxy's "
                      "`X-Forwarded-Proto`) gets `Strict-Transport-Security` and `Secure` session and pre-login cookies; `always`: every response "
                      "(TLS ends at a proxy that forwards nothing); `off`: never (plain-http development)", _https)
    hsts_max_age: int = _var("DOCGEN_HSTS_MAX_AGE", 31_536_000, "31536000 (one year)", "the HSTS `max-age`, in seconds",
                             _whole(0, 9_999_999_999, "e.g. 31536000 (one year, the default)", "is not a number of seconds"))
    forwarded_allow_ips: str = _var("DOCGEN_FORWARDED_ALLOW_IPS", "127.0.0.1", "`127.0.0.1`", "addresses whose `X-Forwarded-Proto`/`-For` "
                                    "`docgen serve` believes (uvicorn's `forwarded_allow_ips`; comma-separated, `*` for any): the reverse proxy that ends TLS")
    # derived, not a variable of its own: the relay the SMTP variables describe (None: none configured)
    mail: MailSettings | None = None

    @property
    def signing(self) -> tuple[str, ...]:
        """The signing configuration as a key (a signer is loaded once per configuration); all empty: no signing."""
        return tuple(str(p or "") for p in (self.signing_key, self.signing_cert, self.signing_chain, self.signing_pkcs12)) + (self.signing_passphrase,)


def variables() -> list[dataclasses.Field[Any]]:
    """The fields of :class:`Settings` that a variable sets, in the README's order (``field.metadata["env"]`` names it)."""
    return [f for f in dataclasses.fields(Settings) if "env" in f.metadata]


def _mail(s: Settings, raw_url: str) -> MailSettings | None:
    """The relay ``DOCGEN_SMTP_*`` and ``DOCGEN_MAIL_FROM`` describe; SettingError naming the variable, never the password."""
    if not raw_url:
        return None
    name, shown = "DOCGEN_SMTP_URL", repr(hide_password(raw_url))
    parts = urlsplit(raw_url)
    if parts.scheme not in SMTP_PORTS or not parts.hostname:
        raise SettingError(name, f"{shown}: is not an SMTP URL", SMTP_ALLOWED)
    try:
        port = parts.port or SMTP_PORTS[parts.scheme]
    except ValueError:
        raise SettingError(name, f"{shown}: has a port that is not a number from 1 to 65535", SMTP_ALLOWED) from None
    query = parse_qs(parts.query)
    starttls_value = (query.pop("starttls", ["on"])[-1]).lower()
    if query or parts.path not in ("", "/") or starttls_value not in ("on", "off"):
        raise SettingError(name, f"{shown}: has an unknown part (only ?starttls=on|off is understood)", SMTP_ALLOWED)
    starttls = parts.scheme == "smtp" and starttls_value == "on"
    user = s.smtp_user or unquote(parts.username or "")
    password = s.smtp_password or unquote(parts.password or "")
    if (user or password) and parts.scheme == "smtp" and not starttls:
        raise SettingError(name, f"{shown}: sends credentials without TLS", "smtps://, or smtp:// with STARTTLS")
    if not s.mail_from or "@" not in parseaddr(s.mail_from)[1]:
        raise _bad("DOCGEN_MAIL_FROM", s.mail_from, "is not a sender address (mail needs one From address)", "e.g. docgen@agency.example.jp")
    return MailSettings(parts.scheme, parts.hostname, port, s.mail_from, user, password, starttls, s.smtp_ca_file, s.smtp_timeout)


def load(environ: Mapping[str, str]) -> Settings:
    """Every ``DOCGEN_*`` variable of ``environ``, checked; SettingError (exit 2) naming the first bad one, what was wrong
    and what is allowed.

    >>> s = load({"DOCGEN_TIMEOUT": "90", "DOCGEN_LANG": "ja_JP.UTF-8"})
    >>> s.timeout, s.lang, s.reset_hours, s.mail
    (90.0, 'ja', 24, None)
    >>> load({"DOCGEN_RESET_HOURS": "0"})
    Traceback (most recent call last):
    ...
    generator.errors.SettingError: DOCGEN_RESET_HOURS: '0': is not a whole number from 1 to 720; allowed: e.g. 24 (the default)
    """
    values: dict[str, Any] = {}
    for f in variables():
        name = f.metadata["env"]
        raw = environ.get(name, "")
        if not raw.strip():
            continue
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            reason, allowed = exc.args if len(exc.args) == 2 else (str(exc), "")
            raise _bad(name, hide_password(raw.strip()), reason, allowed) from None
    s = Settings(**values)
    if s.argon2_memory_kib is not None and s.argon2_parallelism is not None and s.argon2_memory_kib < 8 * s.argon2_parallelism:
        raise _bad("DOCGEN_ARGON2_MEMORY_KIB", str(s.argon2_memory_kib), f"is below 8 KiB per lane ({s.argon2_parallelism} lanes)",
                   f"at least {8 * s.argon2_parallelism}")  # Argon2's own floor (the library's defaults are checked where it is used)
    return dataclasses.replace(s, mail=_mail(s, environ.get("DOCGEN_SMTP_URL", "").strip()))


_forced: list[Settings] = []  # override() stack: tests and callers that choose settings without the environment
_last: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def current() -> Settings:
    """The settings of this process: the environment's ``DOCGEN_*`` variables, read and checked once for as long as they
    stay the same (a test that sets one gets settings that say so), or what :func:`override` put in place."""
    global _last
    if _forced:
        return _forced[-1]
    names = sorted(k for k in os.environ if k.startswith(PREFIX))  # keys only: decoding every value costs more
    key = tuple((k, os.environ[k]) for k in names)
    if _last is None or _last[0] != key:
        _last = (key, load(dict(key)))
    return _last[1]


@contextlib.contextmanager
def override(settings: Settings) -> Iterator[Settings]:
    """:func:`current` answers ``settings`` inside the block (in this process)."""
    _forced.append(settings)
    try:
        yield settings
    finally:
        _forced.pop()


@contextlib.contextmanager
def exported(name: str, value: str) -> Iterator[None]:
    """The variable ``name`` is ``value`` for the block, checked first, here and in every process started meanwhile
    (pool workers, the warm converters): how an option such as ``--timeout`` reaches them. Restored afterwards."""
    load({name: value})  # a bad value stops here, naming the variable
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


def markdown_table() -> str:
    """The README's configuration table, made from :class:`Settings` (tests/test_settings.py keeps the README equal to it)."""
    rows = ["| variable | default | what |", "| --- | --- | --- |"]
    rows += [f"| `{f.metadata['env']}` | {f.metadata['default']} | {f.metadata['what']} |" for f in variables()]
    return "\n".join(rows)
