"""Mail through the SMTP relay ``DOCGEN_SMTP_URL`` names (standard library smtplib/email; failures in Japanese)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from generator.errors import MailError
from generator.settings import MailSettings

# MailSettings (what DOCGEN_SMTP_* and DOCGEN_MAIL_FROM say) is read and checked with every other setting
__all__ = ["MailSettings", "send"]


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
