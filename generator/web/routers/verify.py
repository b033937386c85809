"""Verify in the portal (compliance and admin): upload a PDF, read `docgen verify`'s verdict in Japanese.

Nothing of the upload is kept: it is copied into a temp folder removed before the page is sent; the audit entry
holds its SHA-256, its size and the verdict (not its name, which may name a client).
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import Response

from generator import api
from generator.errors import InputError
from generator.store.accounts import User
from generator.store.audit import record
from generator.web.deps import Db, require_role
from generator.web.pages import render
from generator.web.verdict import unreadable_ja, verdict

router = APIRouter(prefix="/verify", tags=["verify"])
Officer = Annotated[User, Depends(require_role("compliance", "admin"))]
CHUNK = 2**20


@router.get("")
def verify_page(request: Request, user: Officer) -> Response:
    return render(request, "verify.html", result=None, limit_mb=request.app.state.settings.verify_max_bytes // 2**20)


def _refuse(request: Request, status: int, message: str) -> Response:
    return render(request, "verify.html", status, result=None, message=message,
                  limit_mb=request.app.state.settings.verify_max_bytes // 2**20)


@router.post("")
def verify_upload(request: Request, db: Db, user: Officer, upload: Annotated[UploadFile | None, File(alias="file")] = None) -> Response:
    # a plain def (threadpool): the copy, the hashing and pypdf never block the event loop; FastAPI closes the spooled upload after
    if upload is None or not upload.filename:
        return _refuse(request, 400, "ファイル：検証する PDF を選んでください")
    limit = request.app.state.settings.verify_max_bytes
    digest, size = hashlib.sha256(), 0
    with tempfile.TemporaryDirectory(prefix="docgen-verify-") as tmp:
        path = Path(tmp) / "upload.pdf"  # never the uploaded name: it is not a path
        with path.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    return _refuse(request, 413, f"ファイル：{limit // 2**20} MB を超えています。{limit // 2**20} MB 以下の PDF を選んでください")
                digest.update(chunk)
                out.write(chunk)
        try:
            result = api.verify(request.app.state.products(), path)
        except InputError as exc:
            result, problem = None, unreadable_ja(exc.reason)
    sha256 = digest.hexdigest()
    if result is None:
        record(db, user, "verify", sha256, {"sha256": sha256, "bytes": size, "status": "unreadable"})
        db.commit()
        return render(request, "verify.html", 400, result=None, message=f"ファイル：{problem}", sha256=sha256,
                      limit_mb=limit // 2**20)
    shown = verdict(result, request.app.state.products())
    record(db, user, "verify", sha256, {"sha256": sha256, "bytes": size, "status": shown.status, "built_from": result.built_from,
                                        "changed": result.changed, "removed": result.removed, "altered": len(result.altered),
                                        "signature": shown.signature_state})
    db.commit()
    return render(request, "verify.html", result=shown, sha256=sha256, size=size, filename=upload.filename[:200],
                  limit_mb=limit // 2**20)
