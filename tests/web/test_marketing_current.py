"""Marketing builds, previews and downloads the brochure of the current content: watermarked until approved."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from generator.documents.watermark import DRAFT_TEXT
from tests.web.conftest import Portal


def _post(client, url: str, **data):  # type: ignore[no-untyped-def]
    return client.post(url, data={"csrf_token": client.csrf, **data})


def test_current_brochure_is_not_there_before_it_is_built(portal: Portal) -> None:
    client = portal.client("marketing")
    page = client.get("/marketing").text
    assert "未承認" in page and 'id="build"' in page and 'id="preview"' not in page
    assert client.get("/marketing/current.pdf").status_code == 404
    assert portal.client("agent").get("/marketing").status_code == 403


@pytest.mark.libreoffice
def test_marketing_builds_previews_and_downloads_the_draft_brochure(portal: Portal) -> None:
    client = portal.client("marketing")
    assert _post(client, "/marketing/build").status_code == 303
    page = client.get("/marketing").text
    assert 'id="preview"' in page and 'id="download-current"' in page
    inline = client.get("/marketing/current.pdf")
    assert inline.status_code == 200 and inline.headers["content-type"] == "application/pdf"
    texts = [p.extract_text() or "" for p in PdfReader(io.BytesIO(inline.content)).pages]
    assert len(texts) > 5 and all(DRAFT_TEXT in t for t in texts)
    download = client.get("/marketing/current.pdf", params={"download": "1"})
    assert download.content == inline.content and "attachment" in download.headers["content-disposition"]
    assert "_DRAFT.pdf" in download.headers["content-disposition"]
    # marketing may put it up for review from here
    assert _post(client, "/compliance/submit").status_code == 303
    assert 'id="pending"' in client.get("/marketing").text
