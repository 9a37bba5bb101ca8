"""Whether a number is written in a text: the rule that keeps ``extract`` from inventing numbers.

A small chat model asked for a number that a text does not give answers one anyway (SmolLM2-135M
gave ``1000000000`` as the score of reviews that state none; issue 31). ``extract`` therefore keeps
a number only when its text contains it (``grounded=True``, the default) and makes the others NaN.
"Contains" is read generously, so that a real answer is not lost to the way it is written:

- digits of any script, full-width ones included (``"５星"``): Unicode NFKC, then each decimal
  digit as its ASCII digit;
- thousands separators ``,`` ``.`` ``'`` and spaces between groups of three digits (``"1,299"``,
  ``"1.299"``, ``"1 299"``) and a decimal point or comma (``"12.99"``, ``"4,5"``,
  ``"1.299,50"``); every digit run on its own is a number too (``"4/5"``, ``"4.5 out of 5"``:
  4, 5 and 4.5);
- a minus sign before a number (``-`` or U+2212) adds its negative; a number before ``%``,
  "percent", "Prozent", "cent(s)" or ``¢`` also counts divided by 100 (``"20%"`` is 20 and 0.2);
- a number before a magnitude word counts multiplied (``"1.5 million"``, ``"2k"``,
  ``"3 Mio."``, ``"1,2 Mrd"``, ``"1.5万"``, ``"3千"``, ``"2亿"``);
- number words in English (``"five"``, ``"twenty-five"``, ``"three hundred"``, ``"a dozen"``),
  German (``"fünf"``, ``"fünfundzwanzig"``, ``"zweihundert"``; ``"ein"``/``"eine"`` is also the
  article, so a German text always "contains" 1) and Chinese (``"五"``, ``"十五"``,
  ``"两百"``, ``"二〇二四"``); each word alone counts too.

A number the model computes (a count of the items a review lists, a total) is legitimately absent
from the text: ``extract(..., grounded=False)`` keeps such fields as the model gives them.

What is not read: fractions as values (``"4/5"`` is not 0.8), ordinals ("third"), Roman numerals,
number words of other languages. An answer with several readings (``"1.299"``: 1299 in German,
1.299 in English) is taken as the first reading the text contains, thousands before decimals, as
three decimals are rarer than a thousands separator.

The rule is ours, not a library's: word2number and text2num read English (text2num also German)
but not Chinese, cn2an reads only Chinese, and none reads separators, percentages and magnitude
words around digits; three dependencies would cover less than this page does.

This module imports nothing from ``llm_magics``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

__all__ = ["grounded_number", "number_readings", "numbers_in"]

# A digit run, then more runs each after one separator (a space only before three digits, so
# "rated 4 5 times" stays two numbers); a minus sign may come first.
_TOKEN = re.compile(
    r"(?P<sign>[-\u2212]?)(?<!\d)(?P<number>\d+(?:(?:[.,']|\s(?=\d{3}(?!\d)))\d+)*)"
)
_PER_HUNDRED = re.compile(r"\s?(?:%|percent\b|per cent\b|prozent\b|cents?\b|¢)", re.IGNORECASE)
_MAGNITUDES = {
    "k": 1e3, "thousand": 1e3, "tausend": 1e3, "tsd": 1e3, "千": 1e3, "百": 1e2,
    "million": 1e6, "millions": 1e6, "mio": 1e6, "mn": 1e6, "millionen": 1e6, "万": 1e4,
    "billion": 1e9, "billions": 1e9, "bn": 1e9, "milliarde": 1e9, "milliarden": 1e9, "mrd": 1e9,
    "亿": 1e8,
}  # fmt: skip
_LATIN_MAGNITUDES = sorted(filter(str.isascii, _MAGNITUDES), key=len, reverse=True)
# A Latin magnitude word must end there ("5 km" is no 5000); a Chinese one is one character.
_MAGNITUDE = re.compile(
    r"\s?(?P<word>(?:" + "|".join(_LATIN_MAGNITUDES) + r")(?!\w)|[百千万亿])", re.IGNORECASE
)

_ENGLISH = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "dozen": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
_GERMAN = {
    "null": 0, "ein": 1, "eins": 1, "eine": 1, "einen": 1, "einem": 1, "einer": 1, "eines": 1,
    "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
    "zehn": 10, "elf": 11, "zwölf": 12, "dreizehn": 13, "vierzehn": 14, "fünfzehn": 15,
    "sechzehn": 16, "siebzehn": 17, "achtzehn": 18, "neunzehn": 19, "zwanzig": 20,
    "dreißig": 30, "vierzig": 40, "fünfzig": 50, "sechzig": 60, "siebzig": 70, "achtzig": 80,
    "neunzig": 90,
}  # fmt: skip
_SCALES = {"hundred": 100, "hundert": 100, "thousand": 1000, "tausend": 1000, "million": 10**6}
# A German numeral is one word made of these parts ("zweihundertfünfundzwanzig").
_PARTS = "|".join(sorted([*_GERMAN, "und", "hundert", "tausend"], key=len, reverse=True))
_GERMAN_PART = re.compile(_PARTS)
_GERMAN_WORD = re.compile(f"(?:{_PARTS})+")
# Words, and punctuation (a hyphen aside: "twenty-five"), which ends a phrase of number words.
_WORD = re.compile(r"[^\W\d_]+|[^\w\s-]")
_JOINERS = {"and", "a", "und"}

_CHINESE_DIGITS = dict(
    zip("零〇一二两三四五六七八九", [0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9], strict=True)
)
_CHINESE_UNITS = {"十": 10, "百": 100, "千": 1000}
_CHINESE_SECTIONS = {"万": 10**4, "亿": 10**8}
_CHINESE = re.compile("[零〇一二两三四五六七八九十百千万亿]+")


def _normalized(text: str) -> str:
    """NFKC (full-width forms to ASCII), then every decimal digit of any script as ASCII."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"(?![0-9])\d", lambda m: str(unicodedata.decimal(m.group(0))), text)


def _readings(number: str) -> list[float]:
    """What one written number may mean, thousands reading first (``"1.299"`` → 1299, 1.299)."""
    groups = re.split(r"[.,'\s]", number)
    separators = re.findall(r"[.,'\s]", number)
    if not separators:
        return [float(number)]
    readings = []
    if _thousands(groups, separators):
        readings.append(float("".join(groups)))
    head, point = number[: -len(groups[-1]) - 1], separators[-1]
    if point in ".," and (len(groups) == 2 or _thousands(groups[:-1], separators[:-1], point)):
        readings.append(float(re.sub(r"\D", "", head) + "." + groups[-1]))
    return readings


def _thousands(groups: list[str], separators: list[str], not_sep: str = "") -> bool:
    """``groups`` joined by one kind of separator are thousands groups ("1,299,000")."""
    return (
        len(set(separators)) == 1
        and separators[0] != not_sep
        and 1 <= len(groups[0]) <= 3
        and not groups[0].startswith("0")
        and all(len(g) == 3 for g in groups[1:])
    )


def number_readings(answer: str) -> list[float]:
    """The values the first number written in ``answer`` may have, most likely first.

    Empty when ``answer`` holds no number, or one that no reading makes sense of (``"1.2.3"``).

    Examples
    --------
    >>> number_readings("1,299"), number_readings("4,5"), number_readings("-3")
    ([1299.0, 1.299], [4.5], [-3.0])
    >>> number_readings("1.2.3"), number_readings("")
    ([], [])
    """
    match = _TOKEN.search(_normalized(answer))
    if match is None:
        return []
    sign = -1.0 if match.group("sign") else 1.0
    return [sign * value for value in _readings(match.group("number"))]


def _digit_numbers(text: str) -> Iterator[float]:
    for match in _TOKEN.finditer(text):
        number = match.group("number")
        values = [*_readings(number), *(float(run) for run in re.findall(r"\d+", number))]
        rest = text[match.end() :]
        if _PER_HUNDRED.match(rest):
            values += [v / 100 for v in values]
        if magnitude := _MAGNITUDE.match(rest):
            values += [v * _MAGNITUDES[magnitude.group("word").lower()] for v in values]
        if match.group("sign"):
            values += [-v for v in values]
        yield from values


def _spoken(values: list[int]) -> int:
    """The value of number words in order: ``[3, 100, 20, 5]`` (three hundred twenty-five) → 325."""
    total = current = 0
    for value in values:
        if value in (100, 1000, 10**6):
            if value == 100:
                current = max(current, 1) * value
            else:
                total, current = total + max(current, 1) * value, 0
        else:
            current += value
    return total + current


def _word_numbers(text: str) -> Iterator[float]:
    """English and German number words, alone and as phrases ("one hundred and five")."""
    phrase: list[int] = []
    for word in [*_WORD.findall(text.lower()), ""]:
        parts = _word_values(word)
        if parts:
            yield from map(float, parts)
            yield float(_spoken(parts))
            phrase += parts
        elif not (word in _JOINERS and phrase):
            if phrase:
                yield float(_spoken(phrase))
            phrase = []


def _word_values(word: str) -> list[int]:
    """A number word's values in order (``"fünfundzwanzig"`` → [5, 20]); [] for other words."""
    if word in _ENGLISH:
        return [_ENGLISH[word]]
    if word in _SCALES:
        return [_SCALES[word]]
    if word == "und" or not _GERMAN_WORD.fullmatch(word):
        return []
    parts = [part for part in _GERMAN_PART.findall(word) if part != "und"]
    return [_GERMAN.get(part, _SCALES.get(part, 0)) for part in parts]


def _chinese_numbers(text: str) -> Iterator[float]:
    """Chinese numerals: positional ("二十五" 25, "三万五千" 35000) or digit by digit ("二〇二四")."""
    for run in _CHINESE.findall(text):
        yield from (float(_CHINESE_DIGITS[c]) for c in run if c in _CHINESE_DIGITS)
        if all(c in _CHINESE_DIGITS for c in run):
            yield float("".join(str(_CHINESE_DIGITS[c]) for c in run))
        total = section = digit = 0
        for char in run:
            if char in _CHINESE_DIGITS:
                digit = _CHINESE_DIGITS[char]
            elif char in _CHINESE_UNITS:
                section += max(digit, 1) * _CHINESE_UNITS[char]
                digit = 0
            else:
                total += max(section + digit, 1) * _CHINESE_SECTIONS[char]
                section = digit = 0
        yield float(total + section + digit)


def _key(value: float) -> float:
    return round(value, 6)


def numbers_in(text: str) -> frozenset[float]:
    """Every value that a number written in ``text`` may have (the module docstring's rule).

    Examples
    --------
    >>> sorted(numbers_in("Four stars, 4,5 von 5"))
    [4.0, 4.5, 5.0]
    >>> sorted(numbers_in("20% off: $1,299"))
    [0.2, 1.0, 1.299, 20.0, 299.0, 1299.0]
    """
    text = _normalized(text)
    found = [*_digit_numbers(text), *_word_numbers(text), *_chinese_numbers(text)]
    return frozenset(_key(v) for v in found)


def grounded_number(readings: list[float], text: str) -> float | None:
    """The first of an answer's ``readings`` that ``text`` contains, or ``None``.

    ``readings`` come from ``number_readings``; ``text`` is the text the answer was read from.

    Examples
    --------
    >>> grounded_number(number_readings("5"), "Five stars, would buy again.")
    5.0
    >>> grounded_number(number_readings("1000000000"), "Tasty, but the box was crushed.") is None
    True
    """
    numbers = numbers_in(text)
    return next((value for value in readings if _key(value) in numbers), None)
