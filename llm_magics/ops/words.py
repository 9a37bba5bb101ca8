"""The words of a text in English, German or Chinese, and which of them are stop words.

``keywords`` and ``topics`` build their candidate phrases from these words, so both give words
rather than clauses in Chinese and neither names a topic by function words ("ich, das, der").

Chinese is written without spaces, so a regular expression finds whole clauses there. Runs of Han
characters are cut into words by jieba (pure Python, its dictionary inside the package, the
segmenter most Chinese NLP code uses); it is imported on the first Han text only and its start-up
messages are silenced. Latin words are found by a regular expression as before.

Stop words come from two well-kept lists, per language:

- English: scikit-learn's ``ENGLISH_STOP_WORDS`` (the list the ops used before), plus a few
  words it lacks that never name a topic ("does", "really").
- German and Chinese: ``stopwordsiso`` (the stopwords-iso collection, MIT), whose Chinese list
  holds the multi-character function words that jieba produces ("我们", "但是", "一个"), which a
  list of single characters misses. It lacks a few degree adverbs and polite formulas ("非常",
  "没有", "bitte", "leider"), added here like the English ones.

A text's language is guessed cheaply: Chinese when at least half of its letters are Han
characters, otherwise German when more of its words are German than English stop words, and
English otherwise. Han words are always checked against the Chinese list and Latin words against
the list of the text's language (English in a Chinese text: brand and product names), so a
column that mixes languages is handled text by text.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from typing import Literal

__all__ = ["HAN", "Language", "is_stop", "language", "language_shares", "stop_words", "words"]

Language = Literal["en", "de", "zh"]

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A numeral and a measure word ("三天" three days, "几次" a few times, "一股" a whiff of): the
# Chinese for a number, which is no keyword in any language.
_HAN_COUNT = re.compile(r"[一二两三四五六七八九十几百千万][\u4e00-\u9fff]")
_WORD = re.compile(r"\w(?:[\w'-]*\w)?")
_MORE_STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset({"does", "did", "doing", "just", "really", "br"}),
    # Conjunctions, abbreviations and the politeness words of support tickets that stopwords-iso
    # lacks (and three forms of "unser" that Snowball's German list has).
    "de": frozenset(
        {"obwohl", "falls", "sowohl", "bzw", "usw", "eigentlich", "ebenfalls", "unserem"}
        | {"unseren", "unseres", "bitte", "danke", "leider", "hallo", "gruß", "grüße", "dank"}
    ),
    # Degree adverbs and negations ("very", "too", "a bit", "not have"): English lists hold their
    # equivalents, stopwords-iso's Chinese list does not.
    "zh": frozenset(
        {"非常", "太", "有点", "真的", "特别", "比较", "十分", "挺", "已经", "一直", "没有", "可能"}
    ),
}


@functools.cache
def stop_words(lang: Language) -> frozenset[str]:
    """The stop words of a language, lower-case.

    Parameters
    ----------
    lang
        ``"en"``, ``"de"`` or ``"zh"``.

    Returns
    -------
    frozenset of str
        English: scikit-learn's list; German and Chinese: stopwords-iso's; each with the few
        words added in this module.

    Examples
    --------
    >>> {"the", "ich", "我们"} <= stop_words("en") | stop_words("de") | stop_words("zh")
    True
    """
    if lang == "en":
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        listed = frozenset(ENGLISH_STOP_WORDS)
    else:
        import stopwordsiso

        listed = frozenset(w.lower() for w in stopwordsiso.stopwords(lang))
    return listed | _MORE_STOP_WORDS[lang]


def language(text: str) -> Language:
    """The language of a text: ``"zh"``, ``"de"`` or ``"en"``, guessed cheaply.

    Chinese when at least half of the letters are Han characters; otherwise German when more
    words are German than English stop words; otherwise English (also for a text with no words).

    Examples
    --------
    >>> language("包装破损，茶叶受潮发霉了"), language("Der Drucker druckt nicht.")
    ('zh', 'de')
    >>> language("The printer does not print."), language("VPN")
    ('en', 'en')
    """
    letters = sum(c.isalpha() for c in text)
    if letters and len(HAN.findall(text)) * 2 >= letters:
        return "zh"
    latin = _WORD.findall(text.lower())
    german = sum(w in stop_words("de") for w in latin)
    english = sum(w in stop_words("en") for w in latin)
    return "de" if german > english else "en"


def language_shares(texts: Sequence[str], most: int = 200) -> dict[Language, float]:
    """The share of each language among (up to ``most``, evenly spaced) non-blank ``texts``.

    Examples
    --------
    >>> language_shares(["包装破损", "Der Drucker druckt nicht.", "The VPN is down.", " "])
    {'zh': 0.3333333333333333, 'de': 0.3333333333333333, 'en': 0.3333333333333333}
    """
    sample = [t for t in texts[:: max(1, len(texts) // most)] if t.strip()][:most]
    found = [language(t) for t in sample]
    return {code: found.count(code) / len(found) for code in ("zh", "de", "en")} if found else {}


@functools.cache
def _jieba() -> object:
    import jieba

    # jieba logs "Building prefix dict ..." and "Loading model cost ..." at its first cut.
    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[tuple[str, str]]:
    """The words of a text in order, each with the glue that joins it to the word before.

    Latin words are the regular expression's (with inner apostrophes and hyphens: "can't",
    "wi-fi"); a word that holds Han characters is cut by jieba. The glue is ``" "`` between words
    that spaces or other characters separate and ``""`` between the pieces jieba cut from one
    run, so joining a run of words with their glue gives the text as written.

    Examples
    --------
    >>> words("客服也不回复")
    [(' ', '客服'), ('', '也'), ('', '不'), ('', '回复')]
    >>> words("my iphone屏幕")
    [(' ', 'my'), (' ', 'iphone'), ('', '屏幕')]
    """
    found: list[tuple[str, str]] = []
    for word in _WORD.findall(text):
        if not HAN.search(word):
            found.append((" ", word))
            continue
        pieces = [p for p in _jieba().lcut(word) if _WORD.fullmatch(p)]
        found.extend(("" if i else " ", piece) for i, piece in enumerate(pieces))
    return found


def is_stop(word: str, lang: Language) -> bool:
    """Whether a word means too little to be a keyword in a text of language ``lang``.

    A stop word of its script's language (Han words: Chinese; Latin words: ``lang``, English in a
    Chinese text), a contraction of one ("can't", "they're"), a number (in Chinese, a numeral
    with its measure word: "三天"), or a single Latin letter.

    Examples
    --------
    >>> [is_stop(w, "de") for w in ("ich", "drucker", "mehr")]
    [True, False, True]
    >>> [is_stop(w, "zh") for w in ("我们", "茶叶", "非常", "三天", "the", "iphone")]
    [True, False, True, True, True, False]
    """
    if HAN.search(word):
        return word in stop_words("zh") or bool(_HAN_COUNT.fullmatch(word))
    stop = stop_words("en" if lang == "zh" else lang)
    if len(word) < 2 or word.isdigit() or word in stop:
        return True
    if "'" in word:
        return word.split("'")[0] in stop or word.replace("n't", "") in stop
    return False
