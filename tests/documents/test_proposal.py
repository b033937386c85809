"""Proposal packs: one client's letter, quote, 重要事項説明書 and brochure in one PDF, checked against the seed and content.

One batch of clients (a rate class each, the band edges, a 御中 letter) is built once with the real LibreOffice;
every expectation comes from the seed brochure (tests/seed.py), the content YAML or first principles.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from docx import Document
from pypdf import PdfReader

import generator.batch.building as building
from generator.batch.runner import build_packs, run_client_list
from generator.cli import main
from generator.content.model import Product
from generator.content.request import parse_client
from generator.documents.fonts import check_fonts, missing_glyphs
from generator.documents.proposal import plan_pack
from generator.documents.render import docx_text
from generator.site import Site
from tests.principles import content_hash
from tests.seed import seed_limits, seed_tables

pytestmark = pytest.mark.libreoffice

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "clients"
CONTENT = Path(__file__).resolve().parents[2] / "content" / "cyber_lite"
OKU, MAN = 100_000_000, 10_000
AGENT = "さくら保険サービス株式会社"
TOP_TITLES = ["ご案内状", "お見積書", "重要事項説明書", "パンフレット"]
WORD_FILES = ["01_ご案内状.docx", "02_お見積書.docx", "03_重要事項説明書.docx"]
ALLOWED_FONTS = {"IPAexGothic", "IPAexMincho"}
ENCLOSURES = "同封書類：お見積書、重要事項説明書、パンフレット"  # the letter template's fixed last line

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
SITE = Site.at(Path(__file__).resolve().parents[2])
CACHE = Path(__file__).resolve().parents[2] / "outputs" / ".cache"  # layouts learnt once, shared by every test as by every run


def squash(text: str) -> str:
    """Compare text as read from a PDF: NFKC, no whitespace (extraction breaks lines and adds spaces)."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def yen(amount: int) -> str:
    return f"{amount:,}円"


def units(amount: int) -> str:
    """Limits the way the seed prints them: 1,000万円, 1億円."""
    return f"{amount // OKU}億円" if amount % OKU == 0 else f"{amount // MAN:,}万円"


def wareki(day: dt.date) -> str:
    """和暦 from first principles: 令和 began on 2019-05-01 (year 1 is 元年)."""
    assert day >= dt.date(2019, 5, 1)
    year = day.year - 2018
    return f"令和{'元' if year == 1 else year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Case:
    values: dict[str, str]  # the client row as an agent types it
    cls: str
    revenue: int
    limit: int
    band: str  # the seed's band heading for this revenue
    premium: int  # read by hand from the seed's table; cross-checked against seed_tables() below
    addressee: str
    issued: dt.date


def row(client: str, contact: str, industry: str, revenue: str, limit: str, date: str, agent: bool) -> dict[str, str]:
    values = {"client": client, "contact": contact, "industry": industry, "revenue": revenue, "limit": limit, "date": date}
    return values | ({"agent_name": AGENT, "agent_contact": "担当：山本"} if agent else {})


CASES = {
    "D01": Case(row("有限会社 伸和企画", "上", "製造業", "4.5億", "1億", "2026-11-26", agent=True),
                "D01", 450_000_000, 100_000_000, "5億円以下", 149_000, "有限会社 伸和企画 上 様", dt.date(2026, 11, 26)),
    "D02-revenue-exactly-5oku": Case(row("株式会社 髙﨑ロジスティクス", "佐藤 花子", "物流業", "5億", "3億", "令和元年5月1日", agent=False),
                                     "D02", 500_000_000, 300_000_000, "5億円以下", 450_000, "株式会社 髙﨑ロジスティクス 佐藤 花子 様", dt.date(2019, 5, 1)),
    "D02-revenue-5oku-plus-1yen": Case(row("学校法人 桜ヶ丘学園", "鈴木", "学校", "500000001", "1000万", "2026-11-26", agent=True),
                                       "D02", 500_000_001, 10_000_000, "5億円超10億円以下", 194_000, "学校法人 桜ヶ丘学園 鈴木 様", dt.date(2026, 11, 26)),
    "D03-revenue-100oku-no-contact": Case(row("東都印刷株式会社", "", "印刷", "100億", "5000万", "2027-01-04", agent=False),
                                          "D03", 10_000_000_000, 50_000_000, "50億円超100億円以下", 934_000, "東都印刷株式会社 御中", dt.date(2027, 1, 4)),
}


def seed_row(case: Case) -> tuple[int, int, list[int]]:
    """The seed table row for the case's class that holds its revenue (each band is 'over 超, up_to 以下')."""
    (found,) = [r for r in seed_tables()[case.cls] if r[0] < case.revenue <= r[1]]
    return found


def seed_band(over: int, up_to: int) -> str:
    return f"{over // OKU}億円超{up_to // OKU}億円以下" if over else f"{up_to // OKU}億円以下"


def expected_letter(product: Product, addressee: str, issued: dt.date, agent: tuple[str, str] = ("", "")) -> list[str]:
    """The letter's body paragraphs: date, addressee, agency, insurer, then the content's wording, none dropped."""
    letter = product.letter
    return [
        wareki(issued), addressee, *(line for line in agent if line), f"引受保険会社　{product.meta.insurer.name}", letter.title,
        f"{letter.opening}　{letter.greeting[0]}", *letter.greeting[1:],  # the seed prints 拝啓 and the first greeting on one line
        *(p.text for p in letter.body), *letter.closing_lines, letter.closing, ENCLOSURES,
    ]


def body_paragraphs(docx: Path) -> list[str]:
    return [p.text for p in Document(str(docx)).paragraphs]


@dataclass
class Pages:
    """A PDF read per page: body and margin (header/footer) text, split at the page margins of a .docx."""

    body: list[str]
    margin: list[str]
    full: list[str]

    @classmethod
    def read(cls, pdf: Path, docx: Path) -> Pages:
        section = Document(str(docx)).sections[0]
        top, bottom = section.top_margin.pt, section.bottom_margin.pt
        body, margin, full = [], [], []
        for page in PdfReader(pdf).pages:
            height = float(page.mediabox.height)
            parts: dict[str, list[str]] = {"body": [], "margin": []}

            def visit(text: str, cm: list, tm: list, font: object, size: object, parts: dict = parts, height: float = height) -> None:
                y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
                parts["body" if bottom < y < height - top else "margin"].append(text)

            full.append(page.extract_text(visitor_text=visit))
            body.append("".join(parts["body"]))
            margin.append("".join(parts["margin"]))
        return cls(body, margin, full)

    def footer_number(self, index: int) -> tuple[int, int]:
        """The 'k / n' page number each part prints in its own footer."""
        m = re.search(r"管理番号:[0-9a-f]{12}(\d+)/(\d+)$", squash(self.margin[index]))  # the footer ends '管理番号：<hash> k / n'
        assert m, self.margin[index]
        return int(m.group(1)), int(m.group(2))


@dataclass
class Built:
    case: Case
    folder: Path
    pdf: Path
    pages: Pages
    starts: list[int]  # first page of each part, from the parts' own footers (not from the outline)

    def part(self, title: str) -> str:
        """Body text of one part (headers and footers left out, so paragraphs over a page break read whole)."""
        i = TOP_TITLES.index(title)
        end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.pages.body)
        return squash("".join(self.pages.body[self.starts[i] : end]))


def read_pack(case: Case, folder: Path, pdf: Path) -> Built:
    pages = Pages.read(pdf, folder / WORD_FILES[0])
    starts = [i for i in range(len(pages.body)) if pages.footer_number(i)[0] == 1]
    return Built(case, folder, pdf, pages, starts)


# --- one batch of clients, built once -----------------------------------------------------


@pytest.fixture(scope="session")
def packs(product: Product, brochure, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Built]:
    out = tmp_path_factory.mktemp("proposals")
    plans = []
    for case in CASES.values():
        request, errors = parse_client(case.values, missing_glyphs=missing_glyphs)
        assert errors == []
        plans.append(plan_pack(product, request, dt.date(2030, 1, 1), TEMPLATES))  # every case carries its own date
    results, failures = build_packs(product, plans, out, brochure.pdf, cache=CACHE)
    assert failures == [] and len(results) == len(CASES)
    by_client = {r.plan.request.client: r for r in results}
    return {key: read_pack(case, by_client[case.values["client"]].folder, by_client[case.values["client"]].pdf) for key, case in CASES.items()}


@pytest.fixture(params=list(CASES))
def pack(request: pytest.FixtureRequest, packs: dict[str, Built]) -> Built:
    return packs[request.param]


@pytest.fixture(scope="session")
def brochure_pages(brochure) -> list[str]:
    return [p.extract_text() for p in PdfReader(brochure.pdf).pages]


def test_cases_agree_with_the_seed() -> None:
    for case in CASES.values():
        over, up_to, premiums = seed_row(case)
        assert seed_band(over, up_to) == case.band
        assert premiums[seed_limits().index(case.limit)] == case.premium


def test_letter_is_addressed_to_the_client_and_dated_in_wareki(pack: Built) -> None:
    letter = pack.part("ご案内状")
    assert squash(pack.case.addressee) in letter
    assert squash(wareki(pack.case.issued)) in letter
    assert squash(pack.case.addressee) in squash(pack.pages.body[0])  # on the letter's first page, not later
    for title in ("お見積書", "重要事項説明書"):  # every personalised part is addressed and dated
        assert squash(pack.case.addressee) in pack.part(title) and squash(wareki(pack.case.issued)) in pack.part(title)


def test_letter_word_file_holds_every_paragraph_of_the_content(pack: Built, product: Product) -> None:
    values = pack.case.values
    agent = (values.get("agent_name", ""), values.get("agent_contact", ""))
    assert body_paragraphs(pack.folder / WORD_FILES[0]) == expected_letter(product, pack.case.addressee, pack.case.issued, agent)
    assert all(squash(p.text) in pack.part("ご案内状") for p in product.letter.body)


def test_quote_prints_the_seed_premium_and_the_whole_ladder(pack: Built) -> None:
    case = pack.case
    quote = pack.part("お見積書")
    _, _, premiums = seed_row(case)
    assert squash(f"年間保険料 {yen(case.premium)}") in quote
    assert squash(f"賠償保険金額別の年間保険料（{case.cls}・{case.band}）") in quote
    # each ladder row reads: limit, 費用 limit (10% of it, as the seed's premises say), premium; the client's row is marked
    for limit, premium in zip(seed_limits(), premiums, strict=True):
        line = f"{units(limit)}{units(limit // 10)}{yen(premium)}" + ("◎ご提案" if limit == case.limit else "")
        assert squash(line) in quote, line
    assert quote.count("◎ご提案") == 1


def test_disclosure_has_every_exclusion_and_the_client_terms(pack: Built, product: Product) -> None:
    disclosure = pack.part("重要事項説明書")
    texts = [x.text for g in product.exclusions.groups for x in g.items]
    texts += [x.note for g in product.exclusions.groups for x in g.items if x.note]
    texts += [s.text for g in product.exclusions.groups for x in g.items for s in x.subitems]
    assert len(texts) > 36
    assert [t for t in texts if squash(t) not in disclosure] == []
    assert squash(f"年間保険料{yen(pack.case.premium)}") in disclosure
    assert squash(f"賠償保険金額{units(pack.case.limit)}") in disclosure
    assert squash(f"業種区分{pack.case.cls}（{pack.case.values['industry']}）") in disclosure


def test_brochure_is_included_whole(pack: Built, brochure, brochure_pages: list[str], product: Product) -> None:
    start = pack.starts[3]
    assert pack.pages.full[start:] == brochure_pages  # page for page, same text as the standalone brochure
    sizes = [pack.pages.footer_number(s)[1] for s in pack.starts]
    assert len(pack.pages.full) == sum(sizes) and sizes[3] == brochure.pages
    sections = [*product.background.sections, product.examples, product.features, product.coverage,
                product.emergency_support, product.exclusions, product.risk_services]
    brochure_text = squash("".join(pack.pages.full[start:]))
    assert all(squash(f"{s.number}．{s.title}") in brochure_text for s in sections)


def test_outline_is_one_bookmark_per_part_with_the_brochure_sections_nested(pack: Built, brochure) -> None:
    reader = PdfReader(pack.pdf)
    top = [(str(item.title), reader.get_destination_page_number(item)) for item in reader.outline if not isinstance(item, list)]
    assert [t for t, _ in top] == TOP_TITLES
    assert [p for _, p in top] == pack.starts  # where each part's own footer restarts at 1
    assert len(pack.starts) == 4
    nested = reader.outline[-1]
    assert isinstance(nested, list)  # the children of パンフレット
    standalone = PdfReader(brochure.pdf)
    expected = [(str(i.title), standalone.get_destination_page_number(i) + pack.starts[3]) for i in standalone.outline if not isinstance(i, list)]
    assert [(str(i.title), reader.get_destination_page_number(i)) for i in nested if not isinstance(i, list)] == expected
    assert len(expected) == 8


def test_metadata_names_client_author_and_provenance(pack: Built) -> None:
    meta = yaml.safe_load((CONTENT / "product.yaml").read_text(encoding="utf-8"))
    rates = yaml.safe_load((CONTENT / "rates.yaml").read_text(encoding="utf-8"))
    assert meta["approval_number"] == ""  # not approved yet: documents must say 未取得
    info = PdfReader(pack.pdf).metadata
    assert pack.case.values["client"] in info["/Title"]
    assert info["/Author"] == (pack.case.values.get("agent_name") or meta["insurer"]["name"])
    printed_hash = re.search(r"管理番号：([0-9a-f]{12})", pack.pages.margin[0]).group(1)  # the footer's trace number
    assert printed_hash == content_hash(CONTENT)  # every content file's bytes, not the code's own digest
    assert info["/DocgenContentVersion"] == meta["content_version"]
    assert info["/DocgenRatesVersion"] == rates["rates_version"]
    assert info["/DocgenApprovalNumber"] == "未取得"
    assert info["/DocgenContentHash"] == printed_hash
    for needle in (meta["content_version"], rates["rates_version"], "未取得", printed_hash):
        assert needle in info["/Keywords"]


def test_word_files_sit_beside_the_pdf_addressed_to_the_client(pack: Built) -> None:
    assert sorted(p.name for p in pack.folder.iterdir()) == sorted([*WORD_FILES, pack.pdf.name, "pack.json"])
    for name in WORD_FILES:
        assert pack.case.addressee in docx_text(pack.folder / name), name


def test_fonts_embedded_and_allowed(pack: Built) -> None:
    assert {f.name for f in check_fonts(pack.pdf)} <= ALLOWED_FONTS
    out = subprocess.run(["pdffonts", str(pack.pdf)], capture_output=True, text=True, check=True).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    assert rows
    for r in rows:
        assert re.sub(r"^[A-Z]{6}\+", "", r[0]) in ALLOWED_FONTS, r
        assert r[-5] == "yes", r  # emb column


# --- determinism ----------------------------------------------------------------------------


def test_building_the_same_client_twice_is_identical(product: Product, brochure, packs: dict[str, Built], tmp_path: Path) -> None:
    first = packs["D01"]
    request, _ = parse_client(first.case.values, missing_glyphs=missing_glyphs)
    (again,), failures = build_packs(product, [plan_pack(product, request, dt.date(2031, 5, 5), TEMPLATES)], tmp_path, brochure.pdf, cache=CACHE)
    assert failures == [] and not again.skipped
    for name in WORD_FILES:
        assert (again.folder / name).read_bytes() == (first.folder / name).read_bytes(), name
    assert [p.extract_text() for p in PdfReader(again.pdf).pages] == first.pages.full


def test_quote_numbers_differ_between_clients_quoted_the_same_terms(product: Product) -> None:
    terms = {"industry": "製造業", "revenue": "4.5億", "limit": "1億", "date": "2026-11-26"}
    numbers = []
    for client in ("有限会社 伸和企画", "株式会社 別会社", "有限会社 伸和企画"):
        request, _ = parse_client(terms | {"client": client})
        numbers.append(plan_pack(product, request, dt.date(2030, 1, 1), TEMPLATES).contexts["quote"]["quote"]["number"])
    assert numbers[0] != numbers[1]  # a 見積番号 must tell two clients' quotes apart
    assert numbers[0] == numbers[2]  # and stays the same when the same quote is rebuilt
    assert all(n.startswith("CYBER-LITE-20261126-") for n in numbers)


# --- one client from the command line -------------------------------------------------------


@pytest.fixture
def warm_brochure(monkeypatch: pytest.MonkeyPatch, brochure) -> None:
    """The CLI's brochure lookup answers with the session's brochure build (cached_brochure is tested in test_batch)."""
    monkeypatch.setattr(building, "cached_brochure", lambda product, site: brochure.pdf)


CLIENT = ["--client", "有限会社 伸和企画", "--contact", "上", "--date", "2026-11-26"]


def test_cli_builds_one_pack_then_finds_it_up_to_date(warm_brochure, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    args = ["proposal", *CLIENT, "--industry", "製造業", "--revenue", "4.5億", "--limit", "1億", "--out", str(out)]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    (folder,) = list(out.iterdir())
    pdf = folder / "サイバーLite_ご提案書.pdf"
    assert stdout.startswith(f"built: {pdf}") and yen(149_000) in stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted([*WORD_FILES, pdf.name, "pack.json"])
    assert squash("有限会社 伸和企画 上 様") in squash(PdfReader(pdf).pages[0].extract_text())
    mtime = pdf.stat().st_mtime_ns
    assert main(args) == 0
    assert capsys.readouterr().out.startswith(f"up to date: {pdf}")
    assert pdf.stat().st_mtime_ns == mtime


@pytest.mark.parametrize(
    ("industry", "revenue", "limit", "code", "needle"),
    [
        ("製造業", "4.5億", "2億", 3, "要見積"),  # not a published limit: referral
        ("金融", "4.5億", "1億", 4, "引受不可"),  # excluded industry
        ("IT業", "4.5億", "1億", 4, "引受不可"),  # excluded (the table spells it ＩＴ業)
        ("製造業", "101億", "1億", 4, "100億円以下"),  # over the top band
        ("製造業", "abc", "1億", 2, "--revenue: 'abc'"),  # bad option
    ],
)
def test_cli_refusals_leave_nothing_in_out(warm_brochure, tmp_path: Path, capsys: pytest.CaptureFixture,
                                           industry: str, revenue: str, limit: str, code: int, needle: str) -> None:
    out = tmp_path / "out"
    assert main(["proposal", *CLIENT, "--industry", industry, "--revenue", revenue, "--limit", limit, "--out", str(out)]) == code
    captured = capsys.readouterr()
    assert captured.out == "" and needle in captured.err
    assert not out.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    assert main(["proposal", *CLIENT, "--industry", industry, "--revenue", revenue, "--limit", limit, "--out", str(existing)]) == code
    assert list(existing.iterdir()) == []


# --- names: every edge case in one batch (tests/fixtures/clients/names.edge-cases.csv) ---------------

LONG_FILLER = "長名称試験サイバー商事" * 30
NAME_200 = "株式会社" + LONG_FILLER[:192] + "末尾商会"  # how the fixture's rows 6 and 7 were made
NAME_201 = "株式会社" + LONG_FILLER[:193] + "末尾商会"
RENDERED = {  # csv row -> (client, contact) exactly as printed
    2: ("株式会社 A&B <テスト> \"ダブル\" 'シングル'", ""),
    3: ("（株）ＡＢＣ＆Ｃｏ．", "田中"),
    5: ("株式会社 髙﨑製作所", "髙橋"),
    6: (NAME_200, ""),
    8: ("有限会社 空白商会", "山田"),  # the cells are '\u3000 有限会社 空白商会 ' and ' 山田\u3000': surrounding spaces trimmed
}
REFUSED = {  # csv row -> words the reason must contain
    4: "😀 (U+1F600)",
    7: "is 201 characters long; at most 200",
    9: "control character U+000A",  # Alt+Enter in an Excel cell
    10: "ğ (U+011F)",  # IPAex has no ğ: LibreOffice would print 'Dog˘an' (g and a loose breve)
}


@pytest.fixture(scope="session")
def names_batch(product: Product, brochure, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("names")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(building, "cached_brochure", lambda product, site: brochure.pdf)
        summary = run_client_list(SITE, product, FIXTURES / "names.edge-cases.csv", out=out, today=dt.date(2030, 1, 1))
    return summary


def test_names_fixture_is_what_the_cases_say() -> None:
    assert len(NAME_200) == 200 and len(NAME_201) == 201
    text = (FIXTURES / "names.edge-cases.csv").read_text(encoding="utf-8")
    assert NAME_200 in text and NAME_201 in text and "\u3000 有限会社 空白商会 " in text and "改行\n商会" in text


def test_names_batch_outcome_per_row(names_batch) -> None:
    assert sorted(r.plan.request.row for r in names_batch.built) == sorted(RENDERED)
    assert sorted(e.row for e in names_batch.errors) == sorted(REFUSED)
    for error in names_batch.errors:
        assert error.column == "client" and REFUSED[error.row] in error.reason, error
    assert "😀" in next(e.reason for e in names_batch.errors if e.row == 4)  # the reason names the character
    assert names_batch.errors_file is not None and names_batch.errors_file.is_file()


def rendered(names_batch, row_number: int):
    (result,) = [r for r in names_batch.built if r.plan.request.row == row_number]
    return result


@pytest.mark.parametrize("row_number", sorted(RENDERED))
def test_name_is_printed_whole_in_the_pdf_and_the_word_files(names_batch, product: Product, row_number: int) -> None:
    client, contact = RENDERED[row_number]
    result = rendered(names_batch, row_number)
    assert (result.plan.request.client, result.plan.request.contact) == (client, contact)
    addressee = f"{client} {contact} 様" if contact else f"{client} 御中"
    pages = read_pack(CASES["D01"], result.folder, result.pdf)
    assert len(pages.starts) == 4
    for start in pages.starts[:3]:  # the first page of the letter, the quote and the 重要事項説明書
        assert squash(addressee) in squash(pages.pages.body[start]), (row_number, start)
    for name in WORD_FILES:
        assert addressee in docx_text(result.folder / name), name
    # nothing silently dropped: the letter keeps every paragraph of the content around the name
    assert body_paragraphs(result.folder / WORD_FILES[0]) == expected_letter(product, addressee, dt.date(2026, 11, 26))
    assert client in PdfReader(result.pdf).metadata["/Title"]


def test_surrounding_spaces_are_trimmed_inner_space_kept(names_batch) -> None:
    result = rendered(names_batch, 8)
    assert result.plan.request.client == "有限会社 空白商会" and result.plan.request.contact == "山田"
    assert result.folder.name == "有限会社 空白商会 山田"


def test_quote_numbers_are_unique_across_the_batch(names_batch) -> None:
    numbers = [next(t for t in docx_text(r.folder / WORD_FILES[1]) if t.startswith("見積番号")) for r in names_batch.built]
    assert len(set(numbers)) == len(numbers) == len(RENDERED)  # same terms, same day, different clients


def test_long_names_get_short_distinct_folder_names(names_batch) -> None:
    folder = rendered(names_batch, 6).folder
    assert len(folder.name.encode()) <= 255  # one path component on every common file system
    assert len([r for r in names_batch.built if r.folder == folder]) == 1


def iter_files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file())


def test_names_batch_leaves_no_temporary_files(names_batch) -> None:
    names = [p.name for p in iter_files(names_batch.out)]
    assert not [n for n in names if n.endswith((".part", ".tmp"))]
    assert not list(names_batch.out.glob(".staging-*"))
