"""Mail through the SMTP relay ``DOCGEN_SMTP_URL`` names (standard library smtplib/email; failures in Japanese)."""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from generator.errors import InputError, MailError

ENV_URL, ENV_USER, ENV_PASSWORD = "DOCGEN_SMTP_URL", "DOCGEN_SMTP_USER", "DOCGEN_SMTP_PASSWORD"
ENV_FROM, ENV_CA, ENV_TIMEOUT = "DOCGEN_MAIL_FROM", "DOCGEN_SMTP_CA_FILE", "DOCGEN_SMTP_TIMEOUT"
DEFAULT_PORTS = {"smtp": 587, "smtps": 465}
DEFAULT_TIMEOUT = 30.0


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
    timeout: float = DEFAULT_TIMEOUT

    @property
    def relay(self) -> str:
        """The relay as people name it, never with the password.

        >>> MailSettings("smtp", "relay.example.jp", 587, "a@example.jp", "u", "secret").relay
        'smtp://relay.example.jp:587'
        """
        return f"{self.scheme}://{self.host}:{self.port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailSettings | None:
        """The settings ``DOCGEN_SMTP_*`` and ``DOCGEN_MAIL_FROM`` give, None when no relay is set; InputError naming the
        variable when one is malformed.

        >>> s = MailSettings.from_env({"DOCGEN_SMTP_URL": "smtp://u%40x:p%2Fw@relay:2525", "DOCGEN_MAIL_FROM": "docgen@example.jp"})
        >>> (s.host, s.port, s.user, s.password, s.starttls)
        ('relay', 2525, 'u@x', 'p/w', True)
        >>> MailSettings.from_env({"DOCGEN_SMTP_URL": "smtps://relay", "DOCGEN_MAIL_FROM": "a@example.jp"}).port
        465
        >>> MailSettings.from_env({}) is None
        True
        """
        environ = os.environ if environ is None else environ
        raw = environ.get(ENV_URL, "").strip()
        if not raw:
            return None
        parts = urlsplit(raw)
        allowed = "smtp://[user:password@]host[:port] (STARTTLS), smtps://… (TLS), smtp://host:25?starttls=off (no TLS)"
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise InputError(ENV_URL, _hide_password(raw), "is not an SMTP URL", allowed=allowed)
        try:
            port = parts.port or DEFAULT_PORTS[parts.scheme]
        except ValueError:
            raise InputError(ENV_URL, _hide_password(raw), "has a port that is not a number from 1 to 65535", allowed=allowed) from None
        query = parse_qs(parts.query)
        starttls_value = (query.pop("starttls", ["on"])[-1]).lower()
        if query or parts.path not in ("", "/") or starttls_value not in ("on", "off"):
            raise InputError(ENV_URL, _hide_password(raw), "has an unknown part (only ?starttls=on|off is understood)", allowed=allowed)
        starttls = parts.scheme == "smtp" and starttls_value == "on"
        user = environ.get(ENV_USER, "") or unquote(parts.username or "")
        password = environ.get(ENV_PASSWORD, "") or unquote(parts.password or "")
        if (user or password) and parts.scheme == "smtp" and not starttls:
            raise InputError(ENV_URL, _hide_password(raw), "sends credentials without TLS", allowed="smtps://, or smtp:// with STARTTLS")
        sender = environ.get(ENV_FROM, "").strip()
        if not sender or "@" not in parseaddr(sender)[1]:
            raise InputError(ENV_FROM, sender, "is not a sender address (mail needs one From address)", allowed="e.g. docgen@agency.example.jp")
        ca = environ.get(ENV_CA, "").strip()
        if ca and not Path(ca).is_file():
            raise InputError(ENV_CA, ca, "is not a readable PEM file of the CA(s) that signed the relay's certificate")
        timeout_raw = environ.get(ENV_TIMEOUT, "").strip()
        try:
            timeout = float(timeout_raw) if timeout_raw else DEFAULT_TIMEOUT
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 600:
            raise InputError(ENV_TIMEOUT, timeout_raw, "is not a number of seconds", allowed="more than 0, at most 600")
        return cls(parts.scheme, parts.hostname, port, sender, user, password, starttls, Path(ca) if ca else None, timeout)


def _hide_password(url: str) -> str:
    """``url`` as it may be printed: the password replaced.

    >>> _hide_password("smtp://u:secret@relay:587")
    'smtp://u:***@relay:587'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def _tls(settings: MailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)


def send(settings: MailSettings, message: EmailMessage) -> None:
    """Hand ``message`` to the relay; MailError with the reason in Japanese when the relay cannot take it.

    Only the relay's answer counts: once it accepts the message it is its job to deliver it (or bounce it to From).
    """
    where = settings.relay
    try:
        if settings.scheme == "smtps":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout, context=_tls(settings))
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        with smtp:
            if settings.starttls:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise MailError(f"メールサーバー {where} が STARTTLS に対応していないため送信しませんでした (the relay offers no STARTTLS)")
                smtp.starttls(context=_tls(settings))
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, settings.password)
            smtp.send_message(message)
    except MailError:
        raise
    except smtplib.SMTPRecipientsRefused as exc:
        refused = "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in exc.recipients.items())
        raise MailError(f"宛先のメールアドレスがメールサーバーに拒否されました (recipient refused: {refused})") from exc
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(f"差出人アドレス {exc.sender} がメールサーバーに拒否されました (sender refused: {exc.smtp_code} {_text(exc.smtp_error)})") from exc
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"メールサーバー {where} の認証に失敗しました (authentication failed: {exc.smtp_code} {_text(exc.smtp_error)})") from exc
    except smtplib.SMTPResponseException as exc:
        raise MailError(f"メールサーバー {where} が送信を受け付けませんでした ({exc.smtp_code} {_text(exc.smtp_error)})") from exc
    except TimeoutError as exc:
        raise MailError(f"メールサーバー {where} が {settings.timeout:g} 秒以内に応答しませんでした (timeout)") from exc
    except ssl.SSLError as exc:
        raise MailError(f"メールサーバー {where} との TLS 接続に失敗しました（証明書を確認してください） (TLS: {exc.reason or exc})") from exc
    except smtplib.SMTPException as exc:
        raise MailError(f"メールサーバー {where} との通信に失敗しました ({exc})") from exc
    except OSError as exc:  # refused, unreachable, name not resolved
        raise MailError(f"メールサーバー {where} に接続できません (cannot connect: {exc.strerror or exc})") from exc


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
