"""What the portal says, in Japanese: errors worded from their data, fields named as the pages label them.

Every sentence is a msgid (English, marked with ``N_``) translated through docgen's catalog; the error classes keep
their English ``str()`` for the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from generator import i18n
from generator.content.disclosures import MissingItem
from generator.errors import ApprovalError, ClientListError, DocgenError, InputError, QuoteOutcome
from generator.i18n import N_, gettext

LANG = "ja"  # the portal's language

# field or column key (or CLI option behind a shared rule) -> the label the portal's pages and client lists print
FIELD_LABELS: dict[str, str] = {
    "client": "お客様名（会社名）",
    "client_id": "登録済みのお客様",
    "contact": "ご担当者",
    "industry": "業種",
    "revenue": "売上高",
    "limit": "賠償保険金額",
    "agent_name": "代理店名",
    "agent_contact": "代理店連絡先",
    "date": "日付",
    "file": "顧客リスト",
    "q": "お客様名・見積番号",
    "created_on": "作成日",
    "old": "比較する旧バージョン",
    "new": "比較する新バージョン",
    "deductible": "自己負担額",
    "option": "特約",
    "payment": "保険料払込方法",
    "--user": "ログイン中の利用者",
    "--number": "承認番号",
    "--valid-from": "使用開始日",
    "valid_from": "使用開始日",
    "--valid-until": "使用期限",
    "valid_until": "使用期限",
    "--reason": "差戻し理由",
    "--reject": "差戻し理由",
    "since": "以降",
    "version": "内容バージョン",
    "approval": "承認",
    "record": "再発行する提案書",
    "start": "保険始期日",
    "保険始期日": "保険始期日",
    "renewal": "更新契約",
    "draft": "下書き",
    "revision": "改定",
}

# docgen's documents as the pages name them (generator.documents.facts.DOCUMENT_USES keys: where a changed clause prints)
DOCUMENT_LABELS = {"brochure": "パンフレット", "wording": "約款", "proposal": "提案書"}
ROLE_LABELS = {"agent": "代理店", "compliance": "コンプライアンス", "marketing": "マーケティング", "admin": "管理者"}

# what the pages show for a status code, and for an error that carries no data of its own (never its English text)
STATUS_TEXT: dict[int, str] = {
    400: N_("The request could not be processed: please check what you entered."),
    401: N_("Please log in."),
    403: N_("Your role may not open this page."),
    404: N_("Page not found. The address may be mistyped, or the page may belong to another agency."),
    405: N_("This page cannot be opened this way. Use the links and buttons of the portal."),
    413: N_("The data sent is too large (at most {limit} MB)."),
    422: N_("The request could not be processed: please check what you entered."),
    429: N_("Too many requests. Please wait a moment and try again."),
    500: N_("Internal error. The administrator can see the details in the server log."),
    503: N_("The service is temporarily unavailable. Please try again in a moment."),
}
# the error page's heading for a status code
STATUS_TITLE: dict[int, str] = {
    400: N_("Please check what you entered"),
    401: N_("Please log in"),
    403: N_("No permission"),
    404: N_("Page not found"),
    405: N_("This page cannot be opened this way"),
    413: N_("The data sent is too large"),
    422: N_("Please check what you entered"),
    429: N_("Please wait a moment"),
    500: N_("Internal error"),
    503: N_("Temporarily unavailable"),
}
CLASS_TEXT: dict[str, str] = {
    "ConversionError": N_("The PDF could not be made (LibreOffice). Please try again in a moment."),
    "ConversionTimeout": N_("Making the PDF took too long and was stopped. Please try again, or ask the administrator."),
    "FontError": N_("The PDF could not be made: a font is missing on the server. Please tell the administrator."),
    "SetupError": N_("A program the portal needs is missing on the server. Please tell the administrator."),
    "TemplateError": N_("A document template has an error. Please tell the administrator."),
    "ContentError": N_("The product content has errors, so documents cannot be made. Please tell the administrator."),
    "OutputError": N_("The document could not be saved on the server. Please tell the administrator."),
    "DiskFullError": N_("The server's disk is full. Please tell the administrator."),
    "SignatureError": N_("The document could not be signed. Please tell the administrator."),
}
# errors whose own text is already the Japanese a portal user reads (accounts, delivery, mail, client links)
JAPANESE = frozenset({"AccountError", "MailError", "DeliveryError", "LinkError"})
DEFAULT_TEXT = N_("The request could not be completed. Please try again, or ask the administrator.")


def t(msgid: str, params: Mapping[str, object] | None = None) -> str:
    """``msgid`` in the portal's language with its fields filled.

    >>> t(N_("Please log in."))
    'ログインしてください。'
    """
    return gettext(msgid, LANG, params)


def label(field: str) -> str:
    """The field as the pages label it (an unknown key is shown as it is).

    >>> label("revenue"), label("--valid-until"), label("limit")
    ('売上高', '使用期限', '賠償保険金額')
    """
    return FIELD_LABELS.get(field, FIELD_LABELS.get(field.lstrip("-"), field))


def shown(value: object) -> str:
    """A refused value as the page repeats it (generator.i18n.shown)."""
    return i18n.shown(value, LANG)


def describe(exc: BaseException, filename: str | None = None) -> str:
    """The Japanese sentence a portal user reads for ``exc``: the field as the page labels it, what was wrong, what is
    allowed. ``filename``: the name the user gave a file the server stored under its own (never show a server path)."""
    if isinstance(exc, ApprovalError) and "role" in exc.params:  # roles as the pages name them
        params = dict(exc.params)
        params["role"] = ROLE_LABELS.get(str(params["role"]), params["role"])
        params["allowed"] = "、".join(ROLE_LABELS.get(r.strip(), r.strip()) for r in str(params.get("allowed", "")).split(","))
        exc = type(exc)(exc.field, exc.value, exc.reason_id, params, exc.lines, allowed=exc.allowed_id)
    if isinstance(exc, ApprovalError) and exc.lines:  # the compliance page lists the items (without file paths)
        exc = type(exc)(exc.field, exc.value, exc.reason_id, exc.params, allowed=exc.allowed_id)
    if isinstance(exc, (InputError, QuoteOutcome, ApprovalError)):
        return i18n.describe(exc, LANG, FIELD_LABELS)
    if isinstance(exc, ClientListError):
        # a list is named as the agent uploaded it; a bare file name the error carries is that name, a path never shown
        plain = exc.source if exc.source and not any(sep in exc.source for sep in "/\\") else ""
        return i18n.describe(exc, LANG, FIELD_LABELS, source=shown(filename or plain or t(N_("the uploaded list"))))
    if type(exc).__name__ in JAPANESE:
        return str(exc)
    if isinstance(exc, DocgenError):
        for cls in type(exc).__mro__:
            if cls.__name__ in CLASS_TEXT:
                return t(CLASS_TEXT[cls.__name__])
    return t(DEFAULT_TEXT)


def status_text(status: int, params: Mapping[str, object] | None = None) -> str:
    """What an error page says for ``status``.

    >>> status_text(404)[:9]
    'ページが見つかりま'
    """
    return t(STATUS_TEXT.get(status, STATUS_TEXT[400 if status < 500 else 500]), params)


def status_title(status: int) -> str:
    """The error page's heading for ``status``.

    >>> status_title(404), status_title(418)
    ('ページが見つかりません', '入力内容をご確認ください')
    """
    return t(STATUS_TITLE.get(status, STATUS_TITLE[400 if status < 500 else 500]))


def detail_text(detail: object) -> str:
    """An HTTPException's detail as the page shows it: a msgid, or ``(msgid, params)``; anything else is not shown."""
    if isinstance(detail, tuple) and len(detail) == 2 and isinstance(detail[0], str) and isinstance(detail[1], Mapping):
        return t(detail[0], i18n.fill(detail[1], LANG))
    if isinstance(detail, str):
        return t(detail)
    return ""


MAX_VALUE = 200  # characters of a bad value kept for the upload page's table and errors.csv; its message gives its length


def row_error(row: int | None, column: str, value: object, reason: str, exc: BaseException | None) -> dict[str, object]:
    """One bad row of a client list as stored and shown: the English reason (errors.csv as the CLI writes it) and what
    the page shows (``message``: Japanese, from the error's data); the value cut at MAX_VALUE characters.

    >>> row_error(3, "client", "長" * 10_000, "too long", None)["value"][-3:]
    '長長…'
    """
    message = describe(exc) if isinstance(exc, DocgenError) else t(reason) if reason else ""
    text = "" if value is None else str(value)
    return {"row": row, "column": column, "label": label(column), "value": text if len(text) <= MAX_VALUE else text[:MAX_VALUE] + "…",
            "reason": reason, "message": message}


def missing_item(item: MissingItem) -> str:
    """A required 重要事項説明書 item the content lacks, as the compliance page lists it (no file paths).

    >>> missing_item(MissingItem("契約概要", "配当"))
    '契約概要「配当」：記載事項として宣言されていません（監督指針 II-4-2-2(2)）'
    """
    if not item.id:
        return t(N_("{part}「{topic}」: not declared as an item (監督指針 II-4-2-2(2))"), {"part": item.part, "topic": item.topic})
    return t(N_("{part}「{topic}」({id}): no wording yet. {pending}"), {"part": item.part, "topic": item.topic, "id": item.id,
                                                                   "pending": item.pending}).rstrip()


STATE_TEXT = {
    "approved": N_("approved"), "expired": N_("expired"), "not yet valid": N_("not yet valid"), "pending": N_("pending review"),
    "rejected": N_("rejected"), "draft": N_("not submitted"),
}


def state_label(state: Any) -> str:
    """A version's approval state as the compliance and marketing pages show it (generator.compliance.approval.VersionState)."""
    text = t(STATE_TEXT.get(state.status, state.status))
    if state.approval is not None:
        until = state.approval.valid_until or ""
        return t(N_("{state} {number} ({start}–{until})"), {"state": text, "number": state.approval.approval_number,
                                                       "start": state.approval.valid_from, "until": until})
    return text


def cell_change(change: Any) -> str:
    """A changed premium cell as the compare page lists it (generator.compliance.diff.CellChange).

    The amounts' own wording (``D01 5億円以下 / 1億円 149,000円 → 150,000円``) is already Japanese; a cell that appeared
    or went away says so in Japanese.
    """
    if change.old is not None and change.new is not None:
        return str(change.describe())
    cell = change.new or change.old
    return t(N_("{cell}: added") if change.new is not None else N_("{cell}: removed"), {"cell": cell.label})


def document_label(name: str) -> str:
    """A document a clause prints in, as the compare page names it.

    >>> document_label("wording"), document_label("proposal: 重要事項説明書")
    ('約款', '提案書：重要事項説明書')
    """
    head, sep, part = name.partition(": ")
    return DOCUMENT_LABELS.get(head, head) + ("：" + part if sep else "")
