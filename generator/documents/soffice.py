"""One LibreOffice process, as the cold (convert.py) and the warm converter (warm.py) both start it: where soffice is,
its flags and filters, its throwaway hardened profile and environment, the inputs it accepts and how its PDFs land."""

from __future__ import annotations

import errno
import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from generator import settings
from generator.errors import ConversionError, SetupError

SOFFICE_ENV = "DOCGEN_SOFFICE"
FLAGS = ("--headless", "--invisible", "--norestore", "--nolockcheck", "--nodefault", "--nologo", "--nofirststartwizard")
FILTER_OPTIONS: dict[str, bool | int] = {
    "ExportBookmarks": True,
    "ExportNotes": False,
    "UseTaggedPDF": True,
    "EmbedStandardFonts": True,
    # PDF/A-2b and PDF/UA-1 (issue 26): a structure tree, /Lang from the templates' default language (ja-JP), every
    # font embedded, no encryption. generator/documents/structure.py keeps both through the merge, pdfa.py fixes what 7.4 misses.
    "SelectPdfVersion": 2,
    "PDFUACompliance": True,
}
# Forcing the Word import filter makes a corrupt .docx fail to load; without it LibreOffice
# falls back to plain-text import and "successfully" prints the zip bytes.
IN_FILTER = "MS Word 2007 XML"

# Paths and names come from officecfg's schema (share/registry/main.xcd of LO 7.4); an unknown
# path is silently dropped by LibreOffice, so keep them exact.
_HARDENING = [
    ("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
    ("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
    ("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
    ("/org.openoffice.Office.Writer/Content/Update", "Link", "2"),  # 2 = never update links
    ("/org.openoffice.Office.Common/Misc", "FirstRun", "false"),
    ("/org.openoffice.Office.Common/Misc", "ShowTipOfTheDay", "false"),
    ("/org.openoffice.Setup/Office", "ooSetupInstCompleted", "true"),
    # Writer's idle jobs (online spelling and grammar, collecting words for completion) print nothing, and LibreOffice ran
    # them on its main thread between the loading and the export of every document
    ("/org.openoffice.Office.Linguistic/SpellChecking", "IsSpellAuto", "false"),
    ("/org.openoffice.Office.Linguistic/GrammarChecking", "IsAutoCheck", "false"),
    ("/org.openoffice.Office.Writer/AutoFunction/Completion", "Enable", "false"),
    ("/org.openoffice.Office.Writer/AutoFunction/Completion", "CollectWords", "false"),
]


def find_soffice() -> str:
    """Return the soffice executable: ``$DOCGEN_SOFFICE``, else ``soffice``/``libreoffice`` on PATH."""
    hint = "run `bash .ci/setup` (installs libreoffice-writer-nogui and fonts-ipaexfont)"
    override = settings.current().soffice
    if override:
        found = shutil.which(override)
        if found is None:
            raise SetupError(f"{SOFFICE_ENV}={override!r} is not an executable; fix or unset it, or {hint}")
        return found
    for name in ("soffice", "libreoffice"):
        found = shutil.which(name)
        if found:
            return found
    raise SetupError(f"LibreOffice (soffice) not found on PATH; {hint}, or set {SOFFICE_ENV}")


def page_count(pdf: Path) -> int:
    """The number of pages of ``pdf``, read with qpdf (pikepdf): it reads a tagged layout run of a hundred clients'
    documents lazily, where pypdf parses every one of its hundreds of thousands of objects (a third of a second each).
    Without qpdf's pushing of inherited page attributes down the page tree: a fifth of a second per layout PDF, for
    a count that needs none."""
    import pikepdf

    with pikepdf.open(pdf, inherit_page_attributes=False) as opened:
        return len(opened.pages)


def check_inputs(inputs: list[Path]) -> None:
    seen: dict[str, Path] = {}
    for path in inputs:
        if path.suffix.lower() != ".docx":
            raise ValueError(f"{path}: not a .docx file")
        if path.stem in seen:
            raise ValueError(f"{seen[path.stem]} and {path} would both become {path.stem}.pdf")
        seen[path.stem] = path
        if not path.is_file():
            raise ConversionError(f"{path}: input file not found")


def write_profile(profile: Path) -> None:
    items = "".join(
        f'<item oor:path="{path}"><prop oor:name="{name}" oor:op="fuse"><value>{value}</value></prop></item>\n'
        for path, name, value in _HARDENING
    )
    xcu = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<oor:items xmlns:oor="http://openoffice.org/2001/registry" '
        'xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        f"{items}</oor:items>\n"
    )
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(xcu, encoding="utf-8")


@functools.cache
def _utf8_locale() -> str:
    try:
        listed = subprocess.run(["locale", "-a"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        listed = ""
    names = {line.strip().lower().replace("-", "") for line in listed.splitlines()}
    return "ja_JP.UTF-8" if "ja_jp.utf8" in names else "C.UTF-8"


def child_env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ)
    loc = _utf8_locale()
    env.update(
        # A private HOME and TMPDIR keep soffice from touching ~/.config and leave its lu*.tmp
        # litter inside the directory we delete.
        HOME=str(tmp),
        TMPDIR=str(tmp),
        SAL_USE_VCLPLUGIN="svp",
        LANG=loc,
        LC_ALL=loc,
    )
    env.pop("LANGUAGE", None)
    return env


def salvage(inputs: list[Path], staging: Path, out_dir: Path) -> list[Path]:
    """The PDFs soffice finished before it hung: the longest prefix of the inputs with a readable PDF each."""
    done = []
    for source in inputs:
        pdf = staging / f"{source.stem}.pdf"
        try:
            if not pdf.is_file() or page_count(pdf) < 1:
                break
        except Exception:  # a PDF cut off by the kill: pypdf raises many types
            break
        done.append(pdf)
    return [publish(pdf, out_dir) for pdf in done]


def publish(pdf: Path, out_dir: Path) -> Path:
    target = out_dir / pdf.name
    try:
        os.replace(pdf, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Different filesystem: copy next to the target first so the final rename stays atomic.
        fd, part = tempfile.mkstemp(dir=out_dir, prefix=f".{pdf.stem}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as dst, pdf.open("rb") as src:
                shutil.copyfileobj(src, dst)
            os.replace(part, target)
        except BaseException:
            Path(part).unlink(missing_ok=True)
            raise
    return target
