"""Headers and footers of a layout document: each section's page count printed in its own copy of the margins."""

from __future__ import annotations

import re

from generator.batch.margins import print_counts

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
FOOTER_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"


def package() -> dict[str, bytes]:
    """A package whose one footer prints "page / count" with Word's fields, and links a picture of its own."""
    return {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Override PartName="/word/footer1.xml" ContentType="{FOOTER_TYPE}"/></Types>'
        ).encode(),
        "word/_rels/document.xml.rels": (
            b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            b'<Relationship Id="rId4" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/footer" Target="footer1.xml"/>'
            b"</Relationships>"
        ),
        "word/footer1.xml": (
            f'<w:ftr {W}><w:p><w:fldSimple w:instr=" PAGE "><w:r><w:t>1</w:t></w:r></w:fldSimple><w:r><w:t xml:space="preserve"> / </w:t></w:r>'
            '<w:fldSimple w:instr=" NUMPAGES "><w:r><w:rPr><w:b/></w:rPr><w:t>9</w:t></w:r></w:fldSimple></w:p></w:ftr>'
        ).encode(),
        "word/_rels/footer1.xml.rels": b"<Relationships/>",
    }


def counts(footer: bytes) -> list[str]:
    return re.findall(r"<w:t>(\d+)</w:t>", footer.decode())


def test_one_count_is_printed_in_the_footer_itself() -> None:
    parts = package()
    before = {name: data for name, data in parts.items() if name != "word/footer1.xml"}
    assert print_counts(parts, [3, 3]) == {3: {}}
    assert "NUMPAGES" not in parts["word/footer1.xml"].decode() and " PAGE " in parts["word/footer1.xml"].decode()
    assert counts(parts["word/footer1.xml"]) == ["1", "3"]  # the page number stays a field, the count is printed
    assert "<w:b/>" in parts["word/footer1.xml"].decode()  # in the field result's formatting
    assert {name: data for name, data in parts.items() if name != "word/footer1.xml"} == before  # nothing added


def test_every_other_count_gets_a_copy_of_the_footer_named_in_the_relationships_and_content_types() -> None:
    parts = package()
    assert print_counts(parts, [1, 5, 1]) == {1: {}, 5: {"rId4": "rId4p5"}}
    assert counts(parts["word/footer1.xml"]) == ["1", "1"] and counts(parts["word/footer1-5.xml"]) == ["1", "5"]
    assert parts["word/_rels/footer1-5.xml.rels"] == parts["word/_rels/footer1.xml.rels"]  # its picture goes with it
    rels = parts["word/_rels/document.xml.rels"].decode()
    assert re.search(r'Id="rId4p5" Type="[^"]+/footer" Target="footer1-5.xml"', rels)
    assert f'PartName="/word/footer1-5.xml" ContentType="{FOOTER_TYPE}"' in parts["[Content_Types].xml"].decode()
