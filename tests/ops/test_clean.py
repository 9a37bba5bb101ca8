from __future__ import annotations

import string
from collections import Counter

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_magics.ops import clean
from llm_magics.ops.clean import luhn_valid, mask_pii

CARDS = ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+tea@mail.example.co.uk today", "EMAIL"),
        ("call me on +1 (555) 123-4567 please", "PHONE"),
        ("call 020 7946 0958 now", "PHONE"),
        *[(f"my card {c} was charged", "CARD") for c in CARDS],
        ("from 192.168.10.254 last night", "IP"),
        ("from 2001:0db8:85a3:0000:0000:8a2e:0370:7334 too", "IP"),
        ("see https://example.com/a?b=c, it's great", "URL"),
        ("see www.example.org.", "URL"),
    ],
)
def test_each_kind_is_masked(text: str, kind: str) -> None:
    counts: Counter[str] = Counter()
    masked = mask_pii(text, counts)
    assert f"[{kind}]" in masked
    assert dict(counts) == {kind: 1}


def test_numbers_that_are_not_pii_stay() -> None:
    text = "Order 123456789012 (not a card: Luhn fails), 3 boxes at $19.99 on 2024-01-05, 12 oz."
    assert not luhn_valid("123456789012")
    assert mask_pii(text) == text


def test_clean_strips_html_repairs_text_and_counts() -> None:
    series = pd.Series(
        ["<p>Great&nbsp;tea</p><br/>Mail: a@b.org", "CafÃ© au lait   is\n\nfine", None, "<br />"],
        index=[10, 11, 12, 13],
    )
    out = clean(series)
    assert out.tolist()[:2] == ["Great tea Mail: [EMAIL]", "Café au lait is fine"]
    assert out.iloc[2:].isna().all()
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.attrs["llm_magics"]["masked"] == {
        "URL": 0,
        "EMAIL": 1,
        "IP": 0,
        "CARD": 0,
        "PHONE": 0,
    }


def test_steps_can_be_turned_off() -> None:
    text = "<b>x</b>  a@b.org"
    assert clean(pd.Series([text]), html=False, whitespace=False, pii=False).iloc[0] == text


words = st.text(alphabet=string.ascii_letters + " ,.;:!?'()-", min_size=0, max_size=200)


@settings(max_examples=200, deadline=None)
@given(words)
def test_plain_prose_is_left_alone(text: str) -> None:
    assert mask_pii(text) == text


@settings(max_examples=100, deadline=None)
@given(words, st.sampled_from(["jo@example.com", "x.y_z@sub.example.org"]), words)
def test_an_email_anywhere_is_masked(before: str, email: str, after: str) -> None:
    masked = mask_pii(f"{before} {email} {after}")
    assert email not in masked
    assert "[EMAIL]" in masked


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=12, max_size=18), words)
def test_a_luhn_valid_number_is_masked_as_a_card(digits: list[int], context: str) -> None:
    body = "".join(map(str, digits))
    check = next(str(d) for d in range(10) if luhn_valid(body + str(d)))
    number = body + check
    grouped = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
    masked = mask_pii(f"{context} card {grouped} thanks")
    assert "[CARD]" in masked
    assert grouped not in masked


def test_invisible_characters_are_removed_and_cells_of_only_them_are_missing() -> None:
    texts = pd.Series(
        [
            "\ufeffGreen\u200b tea, co\u00adop\x07 grown",
            "\u200b",
            "\ufeff\u00ad \u2060",
            "\U0001f469\u200d\U0001f4bb coder",
            b"Caf\xc3\xa9 <b>ok</b>",
        ]
    )
    out = clean(texts)
    assert out.tolist()[0] == "Green tea, coop grown"
    assert out.isna().tolist() == [False, True, True, False, False]
    assert out.tolist()[3] == "\U0001f469\u200d\U0001f4bb coder"  # an emoji keeps its joiner
    assert out.tolist()[4] == "Café ok"
