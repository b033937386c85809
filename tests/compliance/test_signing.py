"""Signed packs: a pack from an approved version is signed (PAdES) with the configured key; verify catches one byte.

The CA, key and certificate are made here, at test time, in a temp folder (no key is committed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pypdf import PdfReader

from generator import api
from generator.cli import main
from generator.content.model import Product
from generator.documents.pdfa_check import check as pdfa_check
from generator.documents.signing import ENV_CERT, ENV_KEY, ENV_TRUST, check_signature
from generator.errors import SignatureError
from generator.settings import load as load_settings
from generator.site import Site

SIGNER_CN = "Test Insurer Signing (throwaway)"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "docgen tests"), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_pki(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a signing certificate it issued, as PEM files in ``folder``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("docgen test CA")).issuer_name(_name("docgen test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(SIGNER_CN)).issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    paths = {"ca": folder / "ca.pem", "key": folder / "signer.key.pem", "cert": folder / "signer.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory, site: Site, product: Product) -> dict:
    folder = tmp_path_factory.mktemp("signing")
    pki = make_pki(folder)
    approved = dataclasses.replace(product, meta=dataclasses.replace(product.meta, approval_number="CL-SIGN-TEST-1"))
    request = api.client_request(client="有限会社 伸和企画", contact="上", industry="製造業", revenue="4.5億", limit="1億")
    local = dataclasses.replace(site, cache=folder / "cache")
    mp = pytest.MonkeyPatch()
    mp.setenv(ENV_KEY, str(pki["key"]))
    mp.setenv(ENV_CERT, str(pki["cert"]))
    try:
        pack = api.build_pack(local, approved, request, out=folder / "approved", today=dt.date(2026, 12, 2))
        draft = api.build_pack(local, product, request, out=folder / "draft", today=dt.date(2026, 12, 2))
    finally:
        mp.undo()
    return {"pki": pki, "pdf": pack.pdf, "draft": draft.pdf, "folder": folder}


def _verify(pdf: Path, trust: Path | None, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    if trust:
        monkeypatch.setenv(ENV_TRUST, str(trust))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["verify", str(pdf)])
    return code, out.getvalue() + err.getvalue()


@pytest.mark.libreoffice
def test_pack_from_an_approved_version_is_signed_and_verifies(signed: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    check = check_signature(signed["pdf"], load_settings({ENV_TRUST: str(signed["pki"]["ca"])}))
    assert check.signed and check.intact and check.whole_file and check.trusted, check
    assert SIGNER_CN in check.signer
    code, text = _verify(signed["pdf"], signed["pki"]["ca"], monkeypatch)
    assert code == 0, text
    assert "signature: valid, unaltered since signing" in text and SIGNER_CN in text and "trusted signer" in text
    # still the pack docgen built: provenance intact under the signature
    assert PdfReader(signed["pdf"]).metadata["/DocgenApprovalNumber"] == "CL-SIGN-TEST-1"
    # and still PDF/A-2b after the incremental update (the signed bytes are the whole file: whole_file above)
    assert pdfa_check(signed["pdf"]) == []


@pytest.mark.libreoffice
def test_a_draft_is_never_signed(signed: dict) -> None:
    assert not check_signature(signed["draft"], load_settings({})).signed


@pytest.mark.libreoffice
def test_one_byte_changed_fails_verify(signed: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(signed["pdf"].read_bytes())
    at = len(data) // 2
    data[at] = (data[at] + 1) % 256
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(bytes(data))
    assert not check_signature(tampered, load_settings({})).ok
    code, text = _verify(tampered, signed["pki"]["ca"], monkeypatch)
    assert code != 0, text


@pytest.mark.libreoffice
def test_bytes_appended_after_signing_fail_verify(signed: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "appended.pdf"
    tampered.write_bytes(signed["pdf"].read_bytes() + b"\n% appended after signing\n")
    result = check_signature(tampered, load_settings({}))
    assert result.signed and not result.ok
    code, text = _verify(tampered, None, monkeypatch)
    assert code == 1 and "signature: INVALID" in text


def test_a_configured_key_that_is_missing_is_an_error_not_an_unsigned_pack(tmp_path: Path) -> None:
    from generator.documents.signing import load_signer

    with pytest.raises(SignatureError, match=ENV_KEY):
        load_signer(load_settings({ENV_KEY: str(tmp_path / "nope.pem"), ENV_CERT: str(tmp_path / "nope.crt")}))
    with pytest.raises(SignatureError, match="both"):
        load_signer(load_settings({ENV_CERT: __file__}))
    assert load_signer(load_settings({})) is None


@pytest.mark.parametrize("alone", ["DOCGEN_SIGNING_CHAIN", "DOCGEN_SIGNING_PASSPHRASE"])
def test_a_chain_or_passphrase_without_a_key_is_a_bad_setting_not_a_crash(alone: str) -> None:
    """Before: the run went on with no signer and the first approved pack crashed in pyHanko (signer None)."""
    from generator.documents.signing import load_signer

    with pytest.raises(SignatureError, match=ENV_KEY) as caught:
        load_signer(load_settings({alone: __file__}))
    assert caught.value.exit_code == 2 and alone in str(caught.value)


@pytest.mark.libreoffice
@pytest.mark.parametrize("trusted", [True, False], ids=["trust-root", "no-trust-root"])
def test_verify_of_a_signed_pack_prints_nothing_on_stderr(signed: dict, trusted: bool) -> None:
    # a fresh process with Python's own warning filters, as a user runs it: pyHanko warns nothing through docgen,
    # with or without a configured trust root
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONWARNINGS", ENV_TRUST)} | ({ENV_TRUST: str(signed["pki"]["ca"])} if trusted else {})
    done = subprocess.run([sys.executable, "-m", "generator", "verify", str(signed["pdf"])], capture_output=True, text=True, env=env, timeout=120)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert "signature: valid, unaltered since signing" in done.stdout
    assert ("trusted signer" in done.stdout) == trusted
