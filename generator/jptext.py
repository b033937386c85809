"""Japanese text folded for comparing and searching (never for printing): NFKC, no spaces, common 異体字 to 通用字体."""

from __future__ import annotations

import re
import unicodedata

# Variant kanji (異体字・旧字体) that people type interchangeably in company and family names, to the form a search
# box most likely gets. Only for matching: names always print exactly as given.
VARIANTS: dict[str, str] = {
    "髙": "高", "﨑": "崎", "嵜": "崎", "碕": "崎", "邊": "辺", "邉": "辺", "齋": "斎", "齊": "斎", "濱": "浜", "櫻": "桜",
    "澤": "沢", "國": "国", "廣": "広", "德": "徳", "眞": "真", "惠": "恵", "榮": "栄", "藏": "蔵", "關": "関", "會": "会",
    "舘": "館", "籠": "篭", "龍": "竜", "瀨": "瀬", "彌": "弥", "嶋": "島", "嶌": "島", "槇": "槙", "冨": "富", "條": "条",
    "寳": "宝", "寶": "宝", "應": "応", "萬": "万", "與": "与", "實": "実", "縣": "県", "學": "学", "禮": "礼", "壽": "寿",
    "傳": "伝", "團": "団", "圓": "円", "鐵": "鉄", "黑": "黒", "淺": "浅", "增": "増", "徠": "来", "來": "来", "峯": "峰",
    "礒": "磯", "靑": "青", "凜": "凛", "晄": "晃", "兒": "児", "髮": "髪", "驒": "騨", "蘆": "芦",
}
_TABLE = str.maketrans(VARIANTS)
_SPACES = re.compile(r"\s+")  # after NFKC, U+3000 is a plain space; \s also covers tabs and other Unicode spaces


def fold(text: str) -> str:
    """``text`` as a search key: NFKC (full-width and half-width kana alike), lower case, no spaces, 異体字 folded.

    >>> fold("髙﨑 商店")
    '高崎商店'
    >>> fold("青葉　商店") == fold("青葉商店")
    True
    >>> fold("ｱｵﾊﾞｼｮｳﾃﾝ") == fold("アオバショウテン")
    True
    >>> fold("ＡＢＣ 渡邉・齋藤・濱田・櫻井")
    'abc渡辺・斎藤・浜田・桜井'
    """
    return _SPACES.sub("", unicodedata.normalize("NFKC", text).translate(_TABLE)).casefold()


# Company-form words (and their abbreviations) that do not tell two companies apart when comparing names.
_COMPANY_FORMS = ("株式会社", "有限会社", "合同会社", "合資会社", "合名会社", "(株)", "(有)", "(同)", "(資)", "(名)", "株)", "(株")


def company_key(name: str) -> str:
    """A company name folded for "is this the same company": :func:`fold`, company forms and punctuation dropped.

    >>> company_key("さくら保険サービス株式会社") == company_key(" ㈱さくら保険サービス ") == company_key("さくら保険ｻｰﾋﾞｽ(株)")
    True
    >>> company_key("ひまわり保険代理店") == company_key("さくら保険サービス株式会社")
    False
    """
    key = fold(name)
    for form in _COMPANY_FORMS:
        key = key.replace(form, "")
    return "".join(ch for ch in key if unicodedata.category(ch)[0] in "LN")
