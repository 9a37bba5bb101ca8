"""``clean``: text ready for a model and safe to share, with no model at all.

HTML goes through the standard library's ``HTMLParser`` (tags dropped, ``<br>`` and block ends
become spaces, script and style bodies removed, entities decoded); mojibake is repaired by ftfy and
invisible characters are dropped (zero-width spaces, byte-order marks, soft hyphens, word joiners,
control characters; zero-width joiners and direction marks stay, as emoji and some scripts need
them); whitespace runs become one space. A cell left with nothing visible is missing. PII is masked with typed placeholders, most specific first so
one span gets one label: URLs, e-mail addresses, IP addresses, card numbers (13 to 19 digits that
pass the Luhn check, so order numbers and prices stay), then phone numbers (9 to 15 digits in
groups, the usual separators).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser

import ftfy
import pandas as pd

from llm_magics.ops.base import TextColumn, is_blank, operation, record_provenance
from llm_magics.ops.spec import OpSpec

__all__ = ["PII_KINDS", "SPEC", "clean", "luhn_valid", "mask_pii", "strip_html"]

PII_KINDS = ("URL", "EMAIL", "IP", "CARD", "PHONE")

_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_EMAIL = re.compile(r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IP = re.compile(
    r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])"
    r"|(?<![:\w])(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}(?![:\w])"
)
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
)
_BLOCKS = {"br", "p", "div", "li", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
_TAG = re.compile(r"<[A-Za-z/!][^>]*>")
# Controls other than the whitespace ones (tab, line ends, NEL), which the whitespace step handles.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b\u2060\ufeff\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f]")


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn checksum that payment card numbers carry.

    Examples
    --------
    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:  # <br/>: one space, not one per start and end
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """``text`` without markup: tags dropped, entities decoded, block tags as spaces.

    Examples
    --------
    >>> strip_html("Great<br />tea &amp; <b>cheap</b>")
    'Great tea & cheap'
    """
    if "<" not in text and "&" not in text:
        return text
    parser = _TextOnly()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _masker(
    kind: str, counts: Counter[str], check: Callable[[str], bool]
) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        if not check(match.group(0)):
            return match.group(0)
        counts[kind] += 1
        return f"[{kind}]"

    return replace


def _is_card(span: str) -> bool:
    digits = re.sub(r"\D", "", span)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _is_phone(span: str) -> bool:
    return 9 <= sum(c.isdigit() for c in span) <= 15


def mask_pii(text: str, counts: Counter[str] | None = None) -> str:
    """``text`` with URLs, e-mails, IPs, card and phone numbers replaced by ``[URL]``, ``[EMAIL]`` ...

    Examples
    --------
    >>> mask_pii("Mail jo@example.com or call +1 (555) 123-4567, card 4111 1111 1111 1111.")
    'Mail [EMAIL] or call [PHONE], card [CARD].'
    >>> mask_pii("Order 12345, 2 boxes for $19.99 on 2024-01-05.")
    'Order 12345, 2 boxes for $19.99 on 2024-01-05.'
    """
    counts = Counter() if counts is None else counts
    text = _URL.sub(_masker("URL", counts, lambda s: True), text)
    text = _EMAIL.sub(_masker("EMAIL", counts, lambda s: True), text)
    text = _IP.sub(_masker("IP", counts, lambda s: True), text)
    text = _CARD.sub(_masker("CARD", counts, _is_card), text)
    return _PHONE.sub(_masker("PHONE", counts, _is_phone), text)


SPEC = OpSpec(
    name="clean",
    outputs=("{column}",),
    output_kind="replace",
    engine_arguments=(),
    example="clean review                      # strip HTML, fix unicode, mask emails/phones/cards",
    result_name="cleaned",
)


@operation(SPEC)
def clean(
    texts: pd.Series,
    *,
    html: bool = True,
    unicode: bool = True,
    whitespace: bool = True,
    pii: bool = True,
) -> pd.Series:
    """Strip HTML, repair mojibake, normalise whitespace and mask PII; no model needed.

    Parameters
    ----------
    texts
        The text column.
    html, unicode, whitespace, pii
        Which steps to run (all by default). ``unicode`` repairs mojibake and drops invisible
        characters. ``pii`` masks URLs, e-mails, IP addresses, card numbers
        (Luhn-checked) and phone numbers with ``[URL]``, ``[EMAIL]``, ``[IP]``, ``[CARD]``, ``[PHONE]``.

    Returns
    -------
    pandas.Series
        The cleaned text on the same index (missing or emptied cells are NaN); what was masked is
        counted in ``attrs["llm_magics"]["masked"]``.

    Examples
    --------
    >>> s = pd.Series(["Caf\u00c3\u00a9 <b>great</b>!  Mail me: a.b@example.org", None])
    >>> out = clean(s)
    >>> out.tolist(), out.attrs["llm_magics"]["masked"]["EMAIL"]
    (['Café great! Mail me: [EMAIL]', nan], 1)
    """
    column = TextColumn.of(texts, "clean")
    counts: Counter[str] = Counter()
    cleaned = []
    for text in column.texts:
        if html and (_TAG.search(text) or "&" in text):
            text = strip_html(text)
        if unicode:
            text = _INVISIBLE.sub("", ftfy.fix_text(text, unescape_html=False))
        if whitespace:
            text = " ".join(text.split())
        if pii:
            text = mask_pii(text, counts)
        cleaned.append(float("nan") if is_blank(text) else text)
    result = column.series(cleaned, name=column.name)
    record_provenance(
        result,
        "clean",
        {"html": html, "unicode": unicode, "whitespace": whitespace, "pii": pii},
    )
    result.attrs["llm_magics"]["masked"] = {kind: counts[kind] for kind in PII_KINDS}
    return result
