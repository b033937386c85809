"""Every exception docgen raises, each with the data a caller needs to report it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self, TypeGuard


def _fill(template: str, params: Mapping[str, object] | None) -> str:
    """A marked message template with its data filled in (the English a CLI prints; faces translate the template)."""
    return template.format(**params) if params else template


@dataclass(frozen=True, order=True)
class Problem:
    """One located defect: ``file:line: key.path: message``."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        loc = f"{self.file}:{self.line}" if self.line else self.file
        return f"{loc}: {self.path}: {self.message}" if self.path else f"{loc}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "path": self.path, "message": self.message}


class DocgenError(Exception):
    """Raised when docgen cannot do what it was asked; base of every docgen exception."""

    exit_code = 1
    status = "error"  # what --json output and the portal call this outcome

    def details(self) -> dict[str, object]:
        """The data a program needs besides the message (field, value, allowed values…), JSON-ready."""
        keys = ("field", "value", "reason", "allowed", "suggestion")
        return {k: getattr(self, k) for k in keys if getattr(self, k, None) not in (None, "")}


class ContentError(DocgenError):
    """Raised when product content or rates fail to load, match the schema or cross-check."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class PageReferenceError(ContentError):
    """Raised when a {page:ID} reference does not print the page its section starts on in the laid-out brochure."""


class InputError(DocgenError, ValueError):
    """Raised when a CLI option or a client-list value is malformed or not allowed.

    ``reason`` and ``allowed`` are msgids (generator.i18n.N_) with ``{name}`` fields filled from ``params``: the
    attributes hold the English text, ``reason_id``/``allowed_id`` the templates a face translates.
    """

    exit_code = 2
    problems: Sequence[object] = ()  # api.client_request: every bad value of the request (RowError), this one first

    def __init__(self, field: str, value: object, reason: str, allowed: str = "", suggestion: str = "",
                 params: Mapping[str, object] | None = None):
        self.field, self.value, self.suggestion = field, value, suggestion
        self.reason_id, self.allowed_id, self.params = reason, allowed, dict(params or {})
        english = _english(self.params)
        self.reason, self.allowed = _fill(reason, english), _fill(allowed, english)
        msg = f"{field}: {value!r}: {self.reason}"
        if suggestion:
            msg += f" (did you mean {suggestion!r}?)"
        if self.allowed:
            msg += f"; allowed: {self.allowed}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        # rebuilt from its data when a worker process hands it back
        return type(self), (self.field, self.value, self.reason_id, self.allowed_id, self.suggestion, self.params)


class AmountError(InputError):
    """Raised when a yen amount cannot be parsed or formatted exactly (never rounded)."""


class QuoteOutcome(DocgenError):
    """Raised when the table gives no premium for a risk: base of QuoteRefused and ReferralRequired (field, value, reason)."""

    heading = ""

    def __init__(self, field: str, value: object, reason: str, params: Mapping[str, object] | None = None):
        self.field, self.value = field, value
        self.reason_id, self.params = reason, dict(params or {})
        self.reason = _fill(reason, params)
        super().__init__(f"{self.heading}: {field}={value}: {self.reason}")

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.field, self.value, self.reason_id, self.params)


class QuoteRefused(QuoteOutcome):
    """Raised when the product does not cover the risk (excluded industry, revenue out of range)."""

    exit_code = 4
    status = "refused"
    heading = "引受不可 (refused)"


class ReferralRequired(QuoteOutcome):
    """Raised when the risk is insurable but the published table does not price it (要見積)."""

    exit_code = 3
    status = "referral"
    heading = "要見積 (refer to the insurer)"


class TemplateError(DocgenError):
    """Raised when a .docx template is malformed, names an unknown variable or renders invalid XML."""

    def __init__(self, template: str | Path, message: str):
        self.template, self.detail = str(template), message
        super().__init__(f"{template}: {message}")

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        # rebuilt from both arguments when a worker process hands it back
        return type(self), (self.template, self.detail)


class ConversionError(DocgenError):
    """Raised when LibreOffice fails, times out or leaves no readable PDF."""

    exit_code = 5


class ConversionTimeout(ConversionError):
    """Raised when LibreOffice runs past its timeout and is killed; the same input would hang again, so it is not retried."""

    # the PDFs finished before the hang, in input order (LibreOffice converts its files one after another);
    # None when the converter cannot tell
    converted: list[Path] | None = None


class FontError(DocgenError):
    """Raised when a PDF uses a font that is not embedded or not on the allow-list."""

    exit_code = 5


class SetupError(DocgenError):
    """Raised when a required system tool (LibreOffice, fonts, poppler) is missing."""

    exit_code = 5


class ClientListError(DocgenError):
    """Raised when a client list file cannot be read at all (unknown format, missing columns).

    ``source`` is the file as read (a face shows the name its user gave instead); ``reason`` a msgid filled from
    ``params``, where a list of ``(msgid, params)`` pairs is one sentence per part.
    """

    exit_code = 2

    def __init__(self, source: str | Path, reason: str, params: Mapping[str, object] | None = None):
        self.source, self.reason_id, self.params = str(source), reason, dict(params or {})
        self.reason = _fill(reason, _english(self.params))
        super().__init__(f"{self.source}: {self.reason}")

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.source, self.reason_id, self.params)


def _english(params: Mapping[str, object]) -> dict[str, object]:
    """Message parameters as the English text prints them: a list of ``(msgid, params)`` parts joined with "; "."""
    return {k: "; ".join(_fill(m, p) for m, p in v) if _is_parts(v) else v for k, v in params.items()}


def _is_parts(value: object) -> TypeGuard[Sequence[tuple[str, Mapping[str, object]]]]:
    """Whether a message parameter is a list of ``(msgid, params)`` sentences (joined, or translated one by one)."""
    return isinstance(value, (list, tuple)) and all(isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[0], str) for v in value)


class OutputConflict(DocgenError):
    """Raised when an output folder holds a pack of another client, or files docgen did not make; it is never replaced."""

    exit_code = 2


class OutputError(DocgenError):
    """Raised when an output cannot be written: the folder is read-only or unwritable, or the path is a file."""

    exit_code = 2


class DiskFullError(OutputError):
    """Raised when the disk (or quota) is full while writing an output; nothing partial is left."""

    exit_code = 5


class Interrupted(KeyboardInterrupt):
    """Raised when SIGINT (Ctrl-C) or SIGTERM stops docgen; every cleanup that handles Ctrl-C handles both.

    Not a DocgenError: nothing went wrong with the input. The exit code is 128 + the signal (130, 143).
    """

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"signal {signum}")

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        # rebuilt from the signal number when a worker process hands it back
        return type(self), (self.signum,)


class ApprovalError(DocgenError):
    """Raised when a submission or approval breaks the review rules (own submission, wrong role, missing disclosures).

    ``field`` names what was wrong (an option like ``--user``, or ``version``), ``reason`` is a msgid filled from
    ``params``; ``lines`` are listed under the message (the missing disclosure items).
    """

    status = "refused"

    def __init__(self, field: str, value: object, reason: str, params: Mapping[str, object] | None = None, lines: tuple[str, ...] = (),
                 allowed: str = ""):
        self.field, self.value, self.lines = field, value, tuple(lines)
        self.reason_id, self.allowed_id, self.params = reason, allowed, dict(params or {})
        self.reason, self.allowed = _fill(reason, params), _fill(allowed, params)
        head = f"{field}: {value}: {self.reason}" if value not in (None, "") else f"{field}: {self.reason}"
        if self.allowed:
            head += f"; allowed: {self.allowed}"
        super().__init__("\n".join([head, *(f"  {line}" for line in self.lines)]))

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.field, self.value, self.reason_id, self.params, self.lines, self.allowed_id)


class ApprovalOptionError(ApprovalError):
    """Raised when an option of submit/approve names something that cannot be (unknown user, wrong role, dates in the wrong order).

    A bad option (exit 2), not a refused review: the same command with a right value goes through.
    """

    exit_code = 2
    status = "error"


class AccountError(DocgenError):
    """Raised when an account change is refused: the last active admin, a used or expired password link, a wrong password."""

    exit_code = 2

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


class SignatureError(DocgenError):
    """Raised when a pack cannot be signed (no or unreadable key/certificate configured) or its signature does not verify."""


class SigningSetupError(SignatureError):
    """Raised when the signing settings (DOCGEN_SIGNING_*) name a missing or unreadable key or certificate: a bad setting (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, field: str = ""):
        self.field = field
        super().__init__(message)


class SettingError(DocgenError):
    """Raised when an environment variable or a connection option is malformed, unsupported or names what is not there (exit 2).

    ``field`` is the variable or option as the user set it (DOCGEN_DATABASE_URL, --database, --scheduler).
    """

    exit_code = 2

    def __init__(self, field: str, reason: str, allowed: str = ""):
        self.field, self.reason, self.allowed = field, reason, allowed
        super().__init__(f"{field}: {reason}" + (f"; allowed: {allowed}" if allowed else ""))

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.field, self.reason, self.allowed)


class ServiceUnavailable(DocgenError):
    """Raised when a server a setting names (the database) does not answer: the setting may be right, the system is not (exit 5)."""

    exit_code = 5

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.field, self.reason)


class MailError(DocgenError):
    """Raised when the SMTP relay cannot be reached or refuses a message; ``reason`` says why in Japanese."""

    exit_code = 5

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DeliveryError(DocgenError):
    """Raised when a pack cannot be delivered to a client (a draft, no consent recorded, a bad recipient address)."""

    status = "refused"


class LinkError(DocgenError):
    """Raised when a client's download link is unknown or altered (``status_code`` 404) or has expired (410)."""

    def __init__(self, message: str, status_code: int):
        self.status_code = status_code
        super().__init__(message)


class DriftError(DocgenError):
    """Raised when published outputs differ from what the current content regenerates."""

    status = "drift"

    def __init__(self, drifts: list[str]):
        self.drifts = list(drifts)
        super().__init__("\n".join(self.drifts))

    def details(self) -> dict[str, object]:
        return {"drifts": self.drifts}


class ClusterError(DocgenError):
    """Raised when the Dask cluster cannot be used, or a worker's content, templates or docgen differ from the client's."""

    exit_code = 5


# The optional libraries of each face (pyproject.toml's extras): a command that imports one that is not installed
# says which extra brings it instead of a traceback.
EXTRA_OF_MODULE = {
    "sqlalchemy": "portal", "alembic": "portal", "fastapi": "portal", "starlette": "portal", "uvicorn": "portal",
    "multipart": "portal", "python_multipart": "portal", "pwdlib": "portal", "argon2": "portal",
    "dask": "cluster", "distributed": "cluster", "fsspec": "cluster",
    "pyhanko": "signing", "pyhanko_certvalidator": "signing",
    "psycopg": "postgres",
}


class MissingExtra(DocgenError):
    """Raised when a command needs a library of an extra (portal, cluster, signing, postgres) that is not installed."""

    exit_code = 2

    def __init__(self, extra: str, module: str):
        self.field, self.value = "extra", extra
        super().__init__(f"this needs docgen's {extra} extra ({module} is not installed): pip install 'docgen[{extra}]'")

    @classmethod
    def of(cls, exc: ModuleNotFoundError) -> MissingExtra | None:
        """The extra whose library ``exc`` did not find, or None when that module belongs to no extra.

        >>> MissingExtra.of(ModuleNotFoundError("No module named 'dask'", name="dask")).value
        'cluster'
        >>> MissingExtra.of(ModuleNotFoundError("No module named 'nonesuch'", name="nonesuch")) is None
        True
        """
        top = (exc.name or "").partition(".")[0]
        extra = EXTRA_OF_MODULE.get(top)
        return cls(extra, top) if extra else None


class DraftError(InputError):
    """Raised when a content draft cannot be started, saved, submitted or merged as asked (its state, moved content, git)."""

    exit_code = 1


class EditConflict(DraftError):
    """Raised when a saved field was changed by someone else since the form was opened; ``conflicts`` names each field."""

    def __init__(self, conflicts: list[dict[str, object]], reason: str):
        self.conflicts = conflicts
        fields = ", ".join(str(c["path"]) for c in conflicts)
        super().__init__("draft", fields, reason, params={"fields": fields})

    def __reduce__(self) -> tuple[type[Self], tuple[object, ...]]:
        return type(self), (self.conflicts, self.reason_id)
