"""`docgen verify`'s verdict as the portal shows it: the same Verification, said in Japanese."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from generator.content.model import Product
from generator.documents.facts import clauses
from generator.documents.provenance import Verification
from generator.documents.signing import SignatureCheck

_PAGE = r"page (\d+)(?: \((.+?)\))?"
# provenance.altered_pages' sentences, each with its Japanese; a sentence not listed is shown as it is
_ALTERED: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (re.compile(r"^has (\d+) pages; docgen made (\d+)$"), lambda m: f"ページ数が{m[1]}ページです（docgen が作成したときは{m[2]}ページ）"),
    (re.compile(rf"^{_PAGE} was changed or replaced after docgen made it$"),
     lambda m: f"{_where(m)}：docgen が作成した後に差し替えまたは編集されています"),
    (re.compile(rf"^{_PAGE}: its footer names content (\w+), not the stamped (\w+)$"),
     lambda m: f"{_where(m)}：フッターの管理番号 {m[3]} が、PDF に記録された管理番号 {m[4]} と一致しません"),
    (re.compile(rf"^{_PAGE}: it has no docgen footer, not the stamped (\w+)$"),
     lambda m: f"{_where(m)}：docgen のフッター（管理番号）がありません"),
    (re.compile(r"^the stamped premium (.+) is not on the (.+) pages$"),
     lambda m: f"PDF に記録された保険料 {m[1]} が{m[2]}のページに印刷されていません"),
)
_SIGNATURE_PROBLEMS = {
    "the signed bytes were changed (hash mismatch)": "署名された内容が変更されています（ハッシュ不一致）",
    "bytes were added or changed after the signature": "署名の後にデータが追加または変更されています",
}


def _where(m: re.Match[str]) -> str:
    return f"{m[1]}ページ目" + (f"（{m[2]}）" if m[2] else "")


def altered_ja(line: str) -> str:
    """One ALTERED reason in Japanese.

    >>> altered_ja("page 2 (お見積書) was changed or replaced after docgen made it")
    '2ページ目（お見積書）：docgen が作成した後に差し替えまたは編集されています'
    >>> altered_ja("has 11 pages; docgen made 12")
    'ページ数が11ページです（docgen が作成したときは12ページ）'
    """
    for pattern, say in _ALTERED:
        found = pattern.match(line)
        if found:
            return say(found)
    return line


def signature_ja(check: SignatureCheck | None) -> tuple[str, str]:
    """(state, sentence) for the signature: state ``none``, ``valid`` or ``invalid``.

    >>> signature_ja(SignatureCheck(signed=False))
    ('none', '電子署名なし（署名されていない PDF です。ドラフトには署名されません）')
    """
    if check is None or not check.signed:
        return "none", "電子署名なし（署名されていない PDF です。ドラフトには署名されません）"
    if not check.ok:
        problem = check.problem or "the file was altered after signing"
        said = _SIGNATURE_PROBLEMS.get(problem) or (f"検証できません（{problem.removeprefix('cannot be verified: ')}）"
                                                   if problem.startswith("cannot be verified") else problem)
        return "invalid", f"電子署名が無効です：{said}"
    trust = "署名者の証明書は設定された信頼点（DOCGEN_SIGNING_TRUST）で確認済みです" if check.trusted else \
        "署名者の証明書は信頼点で確認していません（DOCGEN_SIGNING_TRUST が未設定か、その認証局のものではありません）"
    return "valid", f"電子署名は有効です：署名後の改変なし。署名者 {check.signer}、署名日時 {check.signed_at}。{trust}"


@dataclass
class Verdict:
    """What the verify page shows for one uploaded PDF."""

    status: str  # matches / differs / altered (differs, and its pages are not docgen's)
    headline: str
    built_from: str
    current: str
    changed: list[tuple[str, str]] = field(default_factory=list)  # (clause id, label)
    removed: list[str] = field(default_factory=list)
    premiums: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    signature_state: str = "none"
    signature: str = ""


def verdict(result: Verification, product: Product) -> Verdict:
    """The Japanese view of ``result`` (api.verify's answer, the one `docgen verify` prints)."""
    labels = {cid: c.label for cid, c in clauses(product).items()}
    if result.altered:
        status = "altered"
        headline = "改ざんの疑い（ALTERED）：この PDF のページは docgen が作成したものではありません。記録された内容情報は当てになりません"
    elif result.matches:
        status = "matches"
        same = "同じ内容から作成" if result.built_from == result.current else "内容は他の箇所で変わりましたが、この文書の条項は同じです"
        headline = f"現在の内容と一致します（{same}）"
    else:
        status = "differs"
        headline = "現在の内容と一致しません" if not result.content_matches else "内容は一致しますが、電子署名が無効です"
    state, sentence = signature_ja(result.signature)
    return Verdict(status, headline, result.built_from, result.current, changed=[(cid, labels.get(cid, "")) for cid in result.changed],
                   removed=list(result.removed), premiums=list(result.premiums), altered=[altered_ja(a) for a in result.altered],
                   signature_state=state, signature=sentence)


def unreadable_ja(reason: str) -> str:
    """Why an upload could not be verified at all (provenance.verify_pdf's InputError reasons), never naming a path."""
    if reason.startswith("has no docgen provenance"):
        return "docgen が作成した PDF ではありません（内容の来歴情報がありません。docgen 以外で作成されたか、来歴の記録を始める前の PDF です）"
    return "PDF として読み込めません（壊れているか、PDF ではないファイルです）"
