"""Marketing edits the product: drafts of a revision as forms from the content model, live checks, preview, review.

Marketing (and admin) edit; compliance reads every draft and decides; agents never see a draft (404, as for a page
that does not exist). Every action is in the audit log; the drafts themselves are commits (generator.compliance.drafts).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from starlette.datastructures import FormData

from generator import api
from generator.api import drafts
from generator.compliance.diff import segments
from generator.compliance.in_force import is_draft
from generator.content import edit
from generator.content.model import CONTENT_FILES
from generator.errors import ContentError, DocgenError, DraftError, EditConflict
from generator.i18n import N_
from generator.store.accounts import User
from generator.store.audit import record
from generator.web.deps import CurrentUser, Db, FormFields
from generator.web.editor_forms import SECTIONS, field_label, key_label, paths, problem_text, slot
from generator.web.messages import cell_change, describe, t
from generator.web.pages import StoredFile, render
from generator.web.routers.compliance import refresh_products

if TYPE_CHECKING:
    from generator.compliance.drafts import Draft

router = APIRouter(prefix="/editor", tags=["editor"])
log = logging.getLogger("docgen.web.editor")
STEMS = {name.removesuffix(".yaml"): name for name in CONTENT_FILES}
STATE_TEXT = {"open": "編集中", "pending": "審査中", "approved": "承認・反映済み", "rejected": "差戻し"}
NOT_FORM = frozenset({"csrf_token", "opened_at", "list_path"})


def _role(*roles: str) -> Callable[[User], User]:
    """Only these roles; an agent is told nothing exists here (404), anyone else that the role may not (403)."""

    def dependency(user: CurrentUser) -> User:
        if user.role == "agent":
            raise HTTPException(404)
        if user.role not in roles:
            raise HTTPException(403, N_("Your role may not open this page."))
        return user

    return dependency


Reader = Annotated[User, Depends(_role("marketing", "compliance", "admin"))]
Editor = Annotated[User, Depends(_role("marketing", "admin"))]
Officer = Annotated[User, Depends(_role("compliance", "admin"))]


def _author(user: User) -> tuple[str, str]:
    return (user.name or user.email, user.email)


def _draft(request: Request, number: int) -> Draft:
    try:
        return drafts.content_repo(request.app.state.site).draft(number)
    except DocgenError:
        raise HTTPException(404) from None


def _file(stem: str) -> str:
    if stem not in STEMS:
        raise HTTPException(404)
    return STEMS[stem]


def _editable(db: Db, draft: Draft) -> tuple[bool, str]:
    """Whether the draft takes edits now, and its state."""
    status, _sub = drafts.draft_state(db, draft)
    return status in ("open", "rejected"), status


@router.get("")
def drafts_page(request: Request, db: Db, user: Reader) -> Response:
    site = request.app.state.site
    try:
        found = drafts.content_repo(site).drafts()
    except DocgenError:  # the content folder is not in a git repository: nothing can be drafted
        return render(request, "editor.html", rows=[], revisions=[], no_repo=True)
    rows = []
    for d in found:
        status, sub = drafts.draft_state(db, d)
        rows.append({"d": d, "state": STATE_TEXT[status], "status": status, "reason": sub.reason if sub is not None and sub.state == "rejected" else ""})
    revisions = [r.name for r in request.app.state.products.schedule().revisions]
    return render(request, "editor.html", rows=rows, revisions=revisions, no_repo=False)


@router.post("/drafts")
def start(request: Request, db: Db, user: Editor, revision: Annotated[str, Form(max_length=20)] = "",
          title: Annotated[str, Form(max_length=200)] = "") -> Response:
    if not title.strip():
        raise HTTPException(400, t(N_("{field}: {reason}"), {"field": "下書きの名前", "reason": t(N_("required"))}))
    d = drafts.start_draft(request.app.state.site, revision, title.strip(), _author(user))
    record(db, user, "draft.start", d.branch, {"revision": d.revision, "title": d.title, "commit": d.head})
    db.commit()
    return RedirectResponse(f"/editor/drafts/{d.number}", status_code=303)


@router.get("/drafts/{number}")
def draft_page(request: Request, db: Db, user: Reader, number: int) -> Response:
    d = _draft(request, number)
    status, sub = drafts.draft_state(db, d)
    return render(request, "editor_draft.html", d=d, sections=SECTIONS, status=status, state=STATE_TEXT[status], sub=sub,
                  stems={v: k for k, v in STEMS.items()})


def _form_page(request: Request, d: Draft, file_name: str, *, editable: bool, values: dict[str, str] | None = None,
               problems: dict[str, list[str]] | None = None, others: list[str] | None = None, conflicts: list[dict[str, object]] | None = None,
               opened_at: str | None = None, status_code: int = 200, notice: str = "", message: str = "") -> Response:
    repo = drafts.content_repo(request.app.state.site)
    node = edit.form(file_name, repo.read(d.head, f"{d.folder}/{file_name}"))
    grid_labels = _grid_labels(request, d) if file_name == "rates.yaml" else {}
    return render(request, "editor_form.html", status_code, d=d, file_name=file_name, stem=file_name.removesuffix(".yaml"),
                  section=SECTIONS[file_name], node=node, editable=editable, values=values or {}, problems=problems or {},
                  others=others or [], conflicts=conflicts or [], opened_at=opened_at or d.head, slot=slot, key_label=key_label,
                  field_label=field_label, grid_labels=grid_labels, notice=notice, message=message)


def _grid_labels(request: Request, d: Draft) -> dict[str, list[str]]:
    """The premium grid's row and column heads: revenue bands and limits, as the table prints them."""
    from generator.jpformat import format_yen_units

    repo = drafts.content_repo(request.app.state.site)
    doc = edit.load_text(repo.read(d.head, f"{d.folder}/rates.yaml"))
    bands = [f"{format_yen_units(b['over'])}超 {format_yen_units(b['up_to'])}以下" if b["over"] else f"{format_yen_units(b['up_to'])}以下"
             for b in doc.get("bands", [])]
    return {"rows": bands, "cols": [format_yen_units(v) for v in doc.get("limits", [])]}


@router.get("/drafts/{number}/sections/{stem}")
def form_page(request: Request, db: Db, user: Reader, number: int, stem: str) -> Response:
    d = _draft(request, number)
    editable, _status = _editable(db, d)
    return _form_page(request, d, _file(stem), editable=editable and user.role != "compliance",
                      notice="保存しました。" if request.query_params.get("saved") else "")


def _changes(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.multi_items() if k not in NOT_FORM and isinstance(v, str) and len(k) <= 200}


def _check(request: Request, d: Draft, file_name: str, changes: dict[str, str]) -> tuple[dict[str, list[str]], list[str]]:
    """The problems of the draft with ``changes``, by field of this file, and the others (other files, whole product)."""
    field_problems, problems = drafts.check_draft(request.app.state.site, d, file_name, changes)
    attr = edit.root_type(file_name)[0]
    by_field: dict[str, list[str]] = {}
    others: list[str] = []
    for p in field_problems:
        by_field.setdefault(p.path, []).append(problem_text(p))
    for q in problems:
        if q.path.startswith((attr + ".", attr + "[")) and q.file.endswith(file_name):
            by_field.setdefault(q.path, []).append(problem_text(q))
        else:
            where = SECTIONS.get(Path(q.file).name, "")
            others.append(f"{where}：{field_label(q.path)}：{problem_text(q)}" if q.path else f"{where}：{problem_text(q)}")
    return by_field, others


@router.post("/drafts/{number}/sections/{stem}/check")
def check(request: Request, db: Db, user: Editor, form: FormFields, number: int, stem: str) -> Response:
    """The live check: the page sends the form on each change; the answer fills the place beside every field."""
    d, file_name = _draft(request, number), _file(stem)
    changes = _changes(form)
    by_field, others = _check(request, d, file_name, changes)
    node = edit.form(file_name, drafts.content_repo(request.app.state.site).read(d.head, f"{d.folder}/{file_name}"))
    out = ['<div id="checks" class="checks">']
    count = sum(len(v) for v in by_field.values()) + len(others)
    said = f"{count}件の問題があります。各項目の横をご確認ください。" if count else "問題は見つかりませんでした（docgen validate と同じ検査）。"
    out.append(f'<p class="{"message" if count else "notice"}" id="check-result">{said}</p>')
    if others:
        out.append('<ul class="problems">' + "".join(f"<li>{escape(o)}</li>" for o in others) + "</ul>")
    out.append("</div>")
    for path in paths(node):
        said = "".join(f"<span>{escape(m)}</span>" for m in by_field.get(path, []))
        out.append(f'<span class="field-problem" id="{slot(path)}" hx-swap-oob="true" role="alert">{said}</span>')
    record(db, user, "draft.check", d.branch, {"file": file_name, "problems": count})
    db.commit()
    return HTMLResponse("".join(out))


@router.post("/drafts/{number}/sections/{stem}")
def save(request: Request, db: Db, user: Editor, form: FormFields, number: int, stem: str) -> Response:
    d, file_name = _draft(request, number), _file(stem)
    refused = _save_form(request, db, user, form, d, file_name)
    return refused or RedirectResponse(f"/editor/drafts/{number}/sections/{stem}?saved=1", status_code=303)


def _save_form(request: Request, db: Db, user: User, form: FormData, d: Draft, file_name: str) -> Response | None:
    """Save what the person changed in the form: None when saved (or nothing changed), else the page saying why not."""
    if not _editable(db, d)[0]:
        raise HTTPException(400, N_("This draft is under review or approved: it can no longer be edited."))
    changes = _changes(form)
    opened_at = str(form.get("opened_at") or "")[:40]
    if not opened_at or not all(c in "0123456789abcdef" for c in opened_at):
        raise HTTPException(400, N_("The form has expired. Please open the page again and resend it."))
    # only the fields the person changed are checked and saved; the problems of those are shown before anything is written
    by_field, others = _check(request, d, file_name, changes)
    if by_field:
        return _form_page(request, d, file_name, editable=True, values=changes, problems=by_field, others=others, opened_at=opened_at,
                          status_code=422, message="入力に問題があります。各項目の横をご確認ください。保存していません。")
    try:
        saved = drafts.save_draft(request.app.state.site, d, file_name, changes, opened_at, _author(user))
    except EditConflict as exc:
        fresh = _draft(request, d.number)
        text = drafts.content_repo(request.app.state.site).read(fresh.head, f"{fresh.folder}/{file_name}")
        conflicts = [{**c, "label": " ".join(filter(None, (edit.owner_id(text, str(c["path"])), field_label(str(c["path"])))))}
                     for c in exc.conflicts]
        record(db, user, "draft.conflict", d.branch, {"file": file_name, "fields": [c["path"] for c in exc.conflicts]})
        db.commit()
        return _form_page(request, fresh, file_name, editable=True, values=changes, conflicts=conflicts, opened_at=fresh.head, status_code=409,
                          message="他の人が先に同じ項目を保存しました。あなたの入力は残してあります。内容を確かめてからもう一度保存してください。")
    except DraftError as exc:
        raise HTTPException(400, describe(exc)) from None
    if saved.commit:
        record(db, user, "draft.save", d.branch, {"file": file_name, "commit": saved.commit, "fields": sorted(saved.changed)})
        db.commit()
    return None


@router.post("/drafts/{number}/sections/{stem}/add")
def add(request: Request, db: Db, user: Editor, form: FormFields, number: int, stem: str) -> Response:
    """A new clause at the end of a list, with the next ID; what the person typed in the form is saved first (never lost)."""
    d, file_name = _draft(request, number), _file(stem)
    list_path = str(form.get("list_path") or "")[:200]
    if form.get("opened_at"):
        refused = _save_form(request, db, user, form, d, file_name)
        if refused is not None:
            return refused
        d = _draft(request, number)
    if not _editable(db, d)[0]:
        raise HTTPException(400, N_("This draft is under review or approved: it can no longer be edited."))
    try:
        commit, new_id = drafts.add_draft_clause(request.app.state.site, d, file_name, list_path, _author(user))
    except DraftError as exc:
        raise HTTPException(400, describe(exc)) from None
    record(db, user, "draft.add", d.branch, {"file": file_name, "id": new_id, "commit": commit})
    db.commit()
    return RedirectResponse(f"/editor/drafts/{number}/sections/{stem}?saved=1#{new_id}", status_code=303)


def _preview_folder(request: Request, d: Draft) -> Path:
    return Path(request.app.state.site.cache) / "draft-previews" / d.head


@router.get("/drafts/{number}/review")
def review(request: Request, db: Db, user: Reader, number: int) -> Response:
    """The draft's redline against the content as it is, and the brochure pages its changes are on (laid out from the draft)."""
    d = _draft(request, number)
    status, sub = drafts.draft_state(db, d)
    diff = drafts.draft_diff(request.app.state.site, d)
    converter = getattr(request.app.state.worker, "converter", None)
    try:
        pages = drafts.preview_draft(request.app.state.site, d, diff, _preview_folder(request, d), converter) if not diff.empty else {}
    except DocgenError as exc:  # LibreOffice could not lay it out: the redline still shows
        log.warning("preview of draft %s failed: %s", d.number, exc)
        pages = {}
    changes = [{"id": c.id, "kind": c.kind, "label": c.present.label, "pages": pages.get(c.id, []),
                "segments": segments(c.old.text if c.old else "", c.new.text if c.new else "")} for c in diff.clauses]
    cells = [{"text": cell_change(c), "pages": pages.get(c.key, [])} for c in diff.cells]
    shown = sorted({p for found in pages.values() for p in found})
    builds = getattr(request.app.state, "editor_builds", {})
    return render(request, "editor_review.html", d=d, status=status, state=STATE_TEXT[status], sub=sub, changes=changes, cells=cells,
                  shown=shown, diff=diff, build=builds.get(d.number, ""))


@router.get("/drafts/{number}/pages/{page}.png")
def page_png(request: Request, user: Reader, number: int, page: int) -> Response:
    from generator.documents.preview import page_png as draw

    d = _draft(request, number)
    folder = _preview_folder(request, d)
    pdf = folder / "brochure.pdf"
    if not pdf.is_file() or not 1 <= page <= 200:
        raise HTTPException(404)
    png = folder / f"page-{page}.png"
    if not png.is_file():
        try:
            draw(pdf, page, png)
        except DocgenError:
            raise HTTPException(404) from None
    return StoredFile(png, media_type="image/png")


@router.get("/drafts/{number}/redline.docx")
def redline_docx(request: Request, db: Db, user: Reader, number: int) -> Response:
    """The submission's redline as Word with tracked changes (made when it was submitted, kept with the submission)."""
    d = _draft(request, number)
    _state, sub = drafts.draft_state(db, d)
    path = Path(request.app.state.site.storage) / sub.redline_key if sub is not None and sub.redline_key else None
    if path is None or not path.is_file():
        raise HTTPException(404)
    return StoredFile(path, media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                        filename=f"下書き{d.number}_見え消し.docx")


@router.post("/drafts/{number}/submit")
def submit(request: Request, db: Db, user: Editor, number: int) -> Response:
    d = _draft(request, number)
    if not _editable(db, d)[0]:
        raise HTTPException(400, N_("This draft is under review or approved: it can no longer be edited."))
    try:
        drafts.submit_draft(request.app.state.site, db, d, user)
    except ContentError as exc:  # what `docgen validate` refuses: each problem by section and field, in Japanese
        lines = [f"・{SECTIONS.get(Path(q.file).name, '')}：{field_label(q.path)}：{problem_text(q)}" for q in exc.problems[:50]]
        raise HTTPException(400, "\n".join(["内容の検査で問題が見つかったため、提出できません。", *lines])) from None
    db.commit()
    return RedirectResponse(f"/editor/drafts/{number}/review", status_code=303)


@router.post("/drafts/{number}/approve")
def approve(request: Request, db: Db, user: Officer, number: int, approval_number: Annotated[str, Form(max_length=100)] = "",
            note: Annotated[str, Form(max_length=1000)] = "") -> Response:
    d = _draft(request, number)
    a = drafts.approve_draft(request.app.state.site, db, d, user, number=approval_number.strip() or None, note=note)
    db.commit()
    refresh_products(request)
    _build_outputs(request, d, a.approval_number)
    return RedirectResponse(f"/editor/drafts/{number}/review", status_code=303)


@router.post("/drafts/{number}/reject")
def reject(request: Request, db: Db, user: Officer, number: int, reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    d = _draft(request, number)
    drafts.reject_draft(request.app.state.site, db, d, user, reason)
    record(db, user, "draft.reject", d.branch, {"reason": reason.strip()})
    db.commit()
    return RedirectResponse(f"/editor/drafts/{number}/review", status_code=303)


def _build_outputs(request: Request, d: Draft, approval: str) -> None:
    """Build the published outputs of the merged content (docgen build) in the background; its outcome goes to the audit log."""
    app = request.app
    builds = app.state.__dict__.setdefault("editor_builds", {})
    builds[d.number] = "running"

    def run() -> None:
        try:
            # what `docgen build` publishes (api.published), each revision stamped with its approval in the portal's database:
            # the revision in force today and every later one approved
            sched = app.state.products.schedule()
            current = api.revision_for(sched)
            later = sched.revisions[sched.revisions.index(current) + 1 :]
            api.build(app.state.site, [current.product, *(r.product for r in later if not is_draft(r.product))])
            builds[d.number] = "done"
        except DocgenError as exc:
            log.warning("building the outputs after draft %s failed: %s", d.number, exc)
            builds[d.number] = "failed"
        with app.state.sessions() as s:
            record(s, "docgen portal", "outputs.build", d.branch, {"approval": approval, "result": builds[d.number]})
            s.commit()

    threading.Thread(target=run, name=f"editor-build-{d.number}", daemon=True).start()
