"""Messages in the reader's language: docgen's gettext catalog (generator/locale, domain ``docgen``) and its msgid marker.

Code writes every sentence a person reads in English, marked with :func:`N_` (``pybabel extract`` collects them,
see babel.cfg); errors keep the marked template and its data, and each face translates them where it shows them.
"""

from __future__ import annotations

import functools
import gettext as _gettext
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeGuard

from babel.support import NullTranslations, Translations

from generator import settings
from generator.errors import ApprovalError, ClientListError, InputError, QuoteOutcome, ReferralRequired, SettingError
from generator.settings import Settings

DOMAIN = "docgen"
LOCALES = Path(__file__).with_name("locale")
LANGUAGES = ("en", "ja")  # en: the msgids themselves; ja: generator/locale/ja/LC_MESSAGES/docgen.po
LANG_ENV = "DOCGEN_LANG"
MAX_SHOWN = 40  # characters of a refused value shown back; a 10,000-character name is not echoed whole
TYPED = frozenset({"header", "suffix", "part", "version", "error"})  # message parameters that repeat what a user typed


def N_(msgid: str) -> str:
    """Mark ``msgid`` for the catalog and return it unchanged (it is translated where it is shown).

    >>> N_("is empty")
    'is empty'
    """
    return msgid


@functools.cache
def translations(lang: str) -> _gettext.NullTranslations:
    """The catalog of ``lang`` (English: the msgids as written); cached, it is read once per process.

    >>> translations("ja").gettext("is empty")
    '入力されていません'
    >>> translations("en").gettext("is empty")
    'is empty'
    """
    if lang == "en":
        return NullTranslations()
    found = Translations.load(str(LOCALES), [lang], DOMAIN)
    if not isinstance(found, Translations):  # Babel answers a NullTranslations when the .mo is missing: a broken install
        raise FileNotFoundError(f"docgen's {lang} message catalog is missing from {LOCALES}")
    return found


def gettext(msgid: str, lang: str, params: Mapping[str, object] | None = None) -> str:
    """``msgid`` in ``lang``, its ``{name}`` fields filled from ``params``.

    >>> gettext("is {length} characters long; at most {limit} fit the documents", "ja", {"length": 201, "limit": 200})
    '201文字あります。書類に印刷できるのは200文字までです'
    """
    text = translations(lang).gettext(msgid) if msgid else ""
    return text.format(**params) if params else text


def language(chosen: Settings | None = None, default: str = "en") -> str:
    """The language a command line asked for with ``DOCGEN_LANG`` (``ja``, ``ja_JP.UTF-8``…), else ``default``.

    Settings that do not read (a bad ``DOCGEN_*``, itself being reported) leave ``default``.

    >>> language(settings.load({"DOCGEN_LANG": "ja_JP.UTF-8"})), language(settings.load({})), language(settings.load({"DOCGEN_LANG": "fr"}))
    ('ja', 'en', 'en')
    """
    try:
        code = (chosen or settings.current()).lang
    except SettingError:
        return default
    return code if code in LANGUAGES else default


def shown(value: object, lang: str) -> str:
    """A refused value as a message repeats it: at most MAX_SHOWN characters, with its length when cut.

    >>> shown("abc", "ja"), shown("x" * 1000, "ja")[-10:]
    ('abc', '…（1,000文字）')
    """
    text = "" if value is None else str(value)
    if len(text) <= MAX_SHOWN:
        return text
    return text[:MAX_SHOWN] + gettext(N_("…({length:,} characters)"), lang, {"length": len(text)})


def _is_parts(value: object) -> TypeGuard[Sequence[tuple[str, Mapping[str, object]]]]:
    return isinstance(value, (list, tuple)) and all(isinstance(v, (list, tuple)) and len(v) == 2 for v in value)


def fill(params: Mapping[str, object], lang: str) -> dict[str, object]:
    """Message parameters for ``lang``: ``(msgid, params)`` sentence lists translated and joined, typed values cut."""
    out: dict[str, object] = {}
    for key, value in params.items():
        if _is_parts(value):
            out[key] = gettext(N_("; "), lang).join(gettext(m, lang, fill(p, lang)) for m, p in value)
        elif isinstance(value, str) and key in TYPED:
            out[key] = shown(value, lang)
        else:
            out[key] = value
    return out


def sentence(field: str, value: object, reason: str, params: Mapping[str, object], lang: str, allowed: str = "", suggestion: str = "") -> str:
    """``field`` (already as its reader knows it), the value given, what was wrong and what is allowed, in ``lang``.

    >>> sentence("売上高", "abc", "not a yen amount", {}, "ja", allowed="4.5億")
    '売上高「abc」：金額として読めません。入力できる値：4.5億'
    """
    said = gettext(reason, lang, fill(params, lang))
    value_text = shown(value, lang)
    head = (gettext(N_("{field} “{value}”: {reason}"), lang, {"field": field, "value": value_text, "reason": said}) if value_text
            else gettext(N_("{field}: {reason}"), lang, {"field": field, "reason": said}))
    if suggestion:
        head += gettext(N_(" (did you mean “{suggestion}”?)"), lang, {"suggestion": suggestion})
    if allowed:
        head += gettext(N_(". Allowed: {allowed}"), lang, {"allowed": gettext(allowed, lang, fill(params, lang))})
    return head


def describe(exc: BaseException, lang: str, labels: Mapping[str, str] | None = None, source: str | None = None) -> str:
    """``exc`` in ``lang`` from its data, each field named by ``labels`` (default: as the error names it, e.g. ``--revenue``
    on the command line); ``source`` replaces a client list's path. An error without such data: its own ``str()``.

    >>> from generator.errors import InputError
    >>> describe(InputError("--revenue", "", "is empty"), "ja")
    '--revenue：入力されていません'
    """
    labels = labels or {}
    chosen = labels

    def name(field: str) -> str:
        return chosen.get(field, chosen.get(field.lstrip("-"), field))
    if isinstance(exc, InputError):
        return sentence(name(exc.field), exc.value, exc.reason_id, exc.params, lang, exc.allowed_id, exc.suggestion)
    if isinstance(exc, QuoteOutcome):
        said = sentence(name(exc.field), exc.value, exc.reason_id, exc.params, lang)
        heading = N_("Refer to the insurer (要見積): {message}") if isinstance(exc, ReferralRequired) else N_("Not insurable (引受不可): {message}")
        return gettext(heading, lang, {"message": said})
    if isinstance(exc, ApprovalError):
        value = "" if exc.field == "version" or exc.value == "''" else exc.value  # "''": an empty option, said by the reason
        head = sentence(name(exc.field), value, exc.reason_id, exc.params, lang, exc.allowed_id)
        return "\n".join([head, *(f"  {line}" for line in exc.lines)])
    if isinstance(exc, ClientListError):
        return gettext(N_("{file}: {reason}"), lang, {"file": source or exc.source, "reason": gettext(exc.reason_id, lang, fill(exc.params, lang))})
    return str(exc)
