"""Mail through a real SMTP server on 127.0.0.1 (aiosmtpd): settings from DOCGEN_SMTP_*, STARTTLS with a login, and
each failure (relay down, recipient refused, wrong password, no STARTTLS offered) said in Japanese."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from generator import mail
from generator.errors import MailError, SettingError
from generator.settings import load as load_settings
from tests.mailkit import smtp_server
from tests.netkit import free_port

FROM = "docgen@agency.example.jp"


def message(to: str = "client@example.co.jp") -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"], msg["From"], msg["To"] = "【サイバーLite】ご提案書のご送付", FROM, to
    msg.set_content("有限会社 伸和企画 上 様\n\nご提案書をお送りします。\n", charset="utf-8")
    return msg


def settings(url: str, **env: str) -> mail.MailSettings:
    found = load_settings({"DOCGEN_SMTP_URL": url, "DOCGEN_MAIL_FROM": FROM, **env}).mail
    assert found is not None
    return found


def test_plain_relay_receives_the_japanese_message_intact() -> None:
    with smtp_server() as relay:
        mail.send(settings(f"smtp://{relay.host}:{relay.port}?starttls=off"), message())
        [got] = relay.mailbox.messages
    assert got["Subject"] == "【サイバーLite】ご提案書のご送付"  # decoded from its RFC 2047 form: the bytes went out as UTF-8
    assert "有限会社 伸和企画 上 様" in got.get_content()
    assert relay.mailbox.envelopes == [(FROM, ["client@example.co.jp"])]


def test_starttls_with_credentials_from_the_url_and_a_private_ca(tmp_path: Path) -> None:
    with smtp_server(tmp_path, login=("agency", "p@ss/word")) as relay:
        url = f"smtp://agency:p%40ss%2Fword@{relay.host}:{relay.port}"
        mail.send(settings(url, DOCGEN_SMTP_CA_FILE=str(relay.ca)), message())
        assert len(relay.mailbox.messages) == 1
        with pytest.raises(MailError, match="認証に失敗しました"):  # the same relay, the wrong password (separate settings win)
            mail.send(settings(url, DOCGEN_SMTP_CA_FILE=str(relay.ca), DOCGEN_SMTP_PASSWORD="wrong"), message())
        with pytest.raises(MailError, match="TLS 接続に失敗しました"):  # the relay's certificate is not trusted without the CA
            mail.send(settings(url), message())
        assert len(relay.mailbox.messages) == 1


def test_a_relay_without_starttls_gets_nothing_unless_told_so() -> None:
    with smtp_server() as relay:
        with pytest.raises(MailError, match="STARTTLS に対応していない"):
            mail.send(settings(f"smtp://{relay.host}:{relay.port}"), message())
        assert relay.mailbox.messages == []


def test_relay_down_and_refused_recipient_say_why_in_japanese() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(MailError, match=f"メールサーバー smtp://127.0.0.1:{port} に接続できません"):
        mail.send(settings(f"smtp://127.0.0.1:{port}?starttls=off"), message())
    with smtp_server() as relay:
        with pytest.raises(MailError, match="宛先のメールアドレスがメールサーバーに拒否されました") as refused:
            mail.send(settings(f"smtp://{relay.host}:{relay.port}?starttls=off"), message("refused@example.co.jp"))
        assert "550" in str(refused.value) and relay.mailbox.messages == []


@pytest.mark.parametrize(("env", "variable"), [
    ({"DOCGEN_SMTP_URL": "http://relay"}, "DOCGEN_SMTP_URL"),
    ({"DOCGEN_SMTP_URL": "smtp://relay:99999"}, "DOCGEN_SMTP_URL"),
    ({"DOCGEN_SMTP_URL": "smtp://u:secret@relay:25?starttls=off", "DOCGEN_MAIL_FROM": FROM}, "DOCGEN_SMTP_URL"),
    ({"DOCGEN_SMTP_URL": "smtp://relay"}, "DOCGEN_MAIL_FROM"),
    ({"DOCGEN_SMTP_URL": "smtp://relay", "DOCGEN_MAIL_FROM": FROM, "DOCGEN_SMTP_TIMEOUT": "soon"}, "DOCGEN_SMTP_TIMEOUT"),
    ({"DOCGEN_SMTP_URL": "smtp://relay", "DOCGEN_MAIL_FROM": FROM, "DOCGEN_SMTP_CA_FILE": "/nonexistent.pem"}, "DOCGEN_SMTP_CA_FILE"),
])
def test_bad_settings_name_the_variable_and_never_print_the_password(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingError) as bad:
        load_settings(env)
    assert bad.value.field == variable and "secret" not in str(bad.value)
