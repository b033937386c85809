"""Signed packs: PAdES signatures (pyHanko) on packs built from an approved version, and their verification.

The insurer configures the key and certificate; nothing is committed. Either PEM files or one PKCS#12 file:

- ``DOCGEN_SIGNING_KEY`` + ``DOCGEN_SIGNING_CERT`` (PEM), optional ``DOCGEN_SIGNING_CHAIN`` (PEM, intermediates)
- ``DOCGEN_SIGNING_PKCS12`` (.p12/.pfx)
- ``DOCGEN_SIGNING_PASSPHRASE``: the key's passphrase, if it has one
- ``DOCGEN_SIGNING_TRUST``: PEM of the CA(s) `docgen verify` trusts as signers (default: none, so it says "not trusted")

No key configured: packs are not signed (drafts never are). A configured key that cannot be read is an error, never a
silently unsigned pack.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import settings
from generator.errors import SigningSetupError

if TYPE_CHECKING:  # pyHanko is imported when signing (the `signing` extra), never by `import generator`
    from pyhanko.sign import signers

ENV_KEY, ENV_CERT, ENV_CHAIN = "DOCGEN_SIGNING_KEY", "DOCGEN_SIGNING_CERT", "DOCGEN_SIGNING_CHAIN"
ENV_P12, ENV_PASS, ENV_TRUST = "DOCGEN_SIGNING_PKCS12", "DOCGEN_SIGNING_PASSPHRASE", "DOCGEN_SIGNING_TRUST"
FIELD = "DocgenSignature"


def _pyhanko_quietly() -> None:
    """Before pyHanko is first imported: silence the one deprecation it triggers, narrowly, so no user sees it.

    pyHanko (0.38) imports ``dsa.DSAPrivateKey``, which cryptography 51 deprecates: the warning names pyHanko's
    module and says nothing a docgen user can act on. Remove this when pyHanko stops importing it (pyHanko > 0.38).
    """
    from cryptography.utils import CryptographyDeprecationWarning

    warnings.filterwarnings("ignore", message="DSA is deprecated", category=CryptographyDeprecationWarning, module=r"pyhanko\.sign\.signers\.pdf_cms")
    # pyHanko logs every chain it cannot build (a signer no configured root vouches for) as a warning with a traceback;
    # docgen's verdict says the same in one line ("signer not checked against a trust root"), so only errors get through
    logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)


def _signed(pdf: Path) -> bool:
    """Whether ``pdf`` has a signature field (read with pypdf: an unsigned pack is verified without pyHanko)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError
    from pypdf.generic import DictionaryObject

    try:
        form = PdfReader(pdf).root_object.get("/AcroForm")
        acro = form.get_object() if form is not None else None
        fields = acro.get("/Fields", []) if isinstance(acro, DictionaryObject) else []
        return any(isinstance(f := field.get_object(), DictionaryObject) and f.get("/FT") == "/Sig" for field in fields)
    except PyPdfError:
        return True  # pyHanko reads the file itself, or says why it cannot


def _file(path: Path | None, var: str) -> Path | None:
    if path is not None and not path.is_file():
        raise SigningSetupError(f"{var}: {str(path)!r}: no such file; allowed: the path of a readable PEM or PKCS#12 file", var)
    return path


def load_signer(chosen: settings.Settings | None = None) -> signers.SimpleSigner | None:
    """The pyHanko signer ``DOCGEN_SIGNING_*`` configure (``chosen``, default: the current settings), or None when no
    signing key is configured."""
    _pyhanko_quietly()
    from pyhanko.sign import signers

    chosen = chosen or settings.current()
    passphrase = chosen.signing_passphrase.encode() or None
    p12 = _file(chosen.signing_pkcs12, ENV_P12)
    key, cert = _file(chosen.signing_key, ENV_KEY), _file(chosen.signing_cert, ENV_CERT)
    if p12 is None and key is None and cert is None:
        if chosen.signing_chain or chosen.signing_passphrase:  # half a configuration: packs would go out unsigned
            given = ENV_CHAIN if chosen.signing_chain else ENV_PASS
            raise SigningSetupError(f"{given} is set but no signing key is: set {ENV_KEY} and {ENV_CERT} (PEM), or {ENV_P12}", ENV_KEY)
        return None
    if p12 is not None:
        signer: signers.SimpleSigner | None = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=passphrase)
        where = f"{ENV_P12}={p12}"
    else:
        if key is None or cert is None:
            raise SigningSetupError(f"{ENV_KEY} and {ENV_CERT} must both be set (a PEM key and its certificate), or {ENV_P12} alone",
                                    ENV_CERT if key is not None else ENV_KEY)
        chain = _file(chosen.signing_chain, ENV_CHAIN)
        signer = signers.SimpleSigner.load(str(key), str(cert), ca_chain_files=(str(chain),) if chain else None, key_passphrase=passphrase)
        where = f"{ENV_KEY}={key}, {ENV_CERT}={cert}"
    if signer is None:  # pyHanko logs the reason and returns None for a wrong passphrase or a damaged file
        raise SigningSetupError(f"cannot read the signing key and certificate ({where}); check the files and {ENV_PASS}", ENV_PASS)
    return signer


def sign_pdf(pdf: Path, signer: signers.Signer, *, reason: str, location: str = "") -> None:
    """Sign ``pdf`` in place (PAdES baseline B, SHA-256) as an incremental update; written next to it, then renamed."""
    _pyhanko_quietly()
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(field_name=FIELD, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
                                        reason=reason, location=location or None)
    tmp = pdf.with_name(f".{pdf.name}.signing")
    with pdf.open("rb") as source, tmp.open("wb") as target:
        signers.sign_pdf(IncrementalPdfFileWriter(source, strict=False), meta, signer=signer, output=target)
    os.replace(tmp, pdf)


@dataclass(frozen=True)
class SignatureCheck:
    """What `docgen verify` says about a PDF's signature."""

    signed: bool
    intact: bool = False  # the signed bytes hash to what was signed
    whole_file: bool = False  # nothing was added or changed after signing
    trusted: bool = False  # the signer's certificate chains to a configured trust root
    signer: str = ""
    signed_at: str = ""
    problem: str = ""

    @property
    def ok(self) -> bool:
        """Unsigned is not a failure here (drafts are never signed); a signature that does not verify is."""
        return not self.signed or (self.intact and self.whole_file)

    def line(self) -> str:
        if not self.signed:
            return "  signature: none (not signed)"
        if not self.ok:
            return f"  signature: INVALID — {self.problem or 'the file was altered after signing'}"
        trust = "trusted signer" if self.trusted else f"signer not checked against a trust root ({ENV_TRUST} not set or not its CA)"
        return f"  signature: valid, unaltered since signing by {self.signer} at {self.signed_at}; {trust}"

    def as_dict(self) -> dict[str, Any]:
        return {"signed": self.signed, "intact": self.intact, "whole_file": self.whole_file, "trusted": self.trusted, "signer": self.signer,
                "signed_at": self.signed_at, "problem": self.problem, "ok": self.ok}


def check_signature(pdf: Path, chosen: settings.Settings | None = None) -> SignatureCheck:
    """Verify every signature of ``pdf``: integrity, coverage of the whole file, and trust when a root is configured."""
    if not _signed(pdf):
        return SignatureCheck(signed=False)
    _pyhanko_quietly()
    from pyhanko.keys import load_certs_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    trust = _file((chosen or settings.current()).signing_trust, ENV_TRUST)
    try:
        roots = list(load_certs_from_pemder([str(trust)])) if trust else []
    except (ValueError, TypeError, OSError) as exc:  # asn1crypto and pyHanko say ValueError for a file that is no certificate
        raise SigningSetupError(f"{ENV_TRUST}: {str(trust)!r}: not a readable PEM or DER certificate ({type(exc).__name__}); "
                                "allowed: the path of the trusted root certificate", ENV_TRUST) from None
    try:
        with pdf.open("rb") as f:
            reader = PdfFileReader(f, strict=False)
            sigs = reader.embedded_signatures
            if not sigs:
                return SignatureCheck(signed=False)
            sig = sigs[-1]
            status = validate_pdf_signature(sig, ValidationContext(trust_roots=roots, allow_fetching=False) if roots else None)
            from pyhanko.sign.validation import SignatureCoverageLevel

            whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE and len(sigs) == 1
            subject = status.signing_cert.subject.human_friendly if status.signing_cert else ""
            when = status.signer_reported_dt.isoformat(timespec="seconds") if status.signer_reported_dt else ""
            problem = "" if status.intact else "the signed bytes were changed (hash mismatch)"
            if status.intact and not whole:
                problem = "bytes were added or changed after the signature"
            return SignatureCheck(True, bool(status.intact and status.valid), whole, bool(roots) and bool(status.trusted), subject, when, problem)
    except Exception as exc:  # noqa: BLE001 - a damaged file is a failed verification, reported in one line
        return SignatureCheck(True, problem=f"cannot be verified: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")


_SIGNERS: dict[tuple[str, ...], signers.SimpleSigner | None] = {}


def check_signing_settings() -> None:
    """Read the configured signer once before a build issues anything: a bad DOCGEN_SIGNING_* stops the run (exit 2), not every pack."""
    chosen = settings.current()
    if any(chosen.signing) and chosen.signing not in _SIGNERS:
        _SIGNERS[chosen.signing] = load_signer(chosen)


def sign_issued(pdf: Path, approval_number: str, insurer: str) -> bool:
    """Sign a pack built from an approved version when a key is configured; True when it was signed.

    The signer is read once per configuration (a client list signs hundreds of packs).
    """
    chosen = settings.current()
    if not any(chosen.signing):
        return False
    if chosen.signing not in _SIGNERS:
        _SIGNERS[chosen.signing] = load_signer(chosen)
    signer = _SIGNERS[chosen.signing]
    if signer is None:  # only a passphrase or a chain is set: no key to sign with
        return False
    sign_pdf(pdf, signer, reason=f"{insurer} 承認番号 {approval_number}")
    return True
