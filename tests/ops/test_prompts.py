from __future__ import annotations

import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.prompts import (
    DEFAULT_PROMPTS,
    current_prompts,
    get_prompt,
    render,
    reset_prompts,
    set_prompt,
    use_prompts,
)


def test_every_prompt_puts_the_text_last() -> None:
    # The yes/no questions come after the text: fewer false yes (the prompts' comments).
    after = {"filter", "extract_bool"}
    for name, template in DEFAULT_PROMPTS.items():
        if "{text}" in template and name not in after:
            assert template.endswith("{text}"), name
    assert all(DEFAULT_PROMPTS[name].startswith("{text}") for name in after)


def test_a_prompt_can_be_replaced_and_reset() -> None:
    try:
        set_prompt("summarize", "TL;DR in {max_words} words:\n\n{text}")
        assert render("summarize", text="x", max_words=3) == "TL;DR in 3 words:\n\nx"
    finally:
        reset_prompts()
    assert get_prompt("summarize") == DEFAULT_PROMPTS["summarize"]


def test_the_prompts_of_one_process_become_another_s() -> None:
    # What a Ray worker does with the driver's prompts (current_prompts, then use_prompts).
    try:
        set_prompt("summarize_answer", "Briefly,")
        sent = current_prompts()
        assert sent == DEFAULT_PROMPTS | {"summarize_answer": "Briefly,"}
        sent["summarize_answer"] = "changed"  # a copy: the kernel's prompts stay as they are
        assert get_prompt("summarize_answer") == "Briefly,"
        reset_prompts()
        use_prompts({"summarize_answer": "Briefly,"})
        assert get_prompt("summarize_answer") == "Briefly,"
        assert get_prompt("summarize") == DEFAULT_PROMPTS["summarize"]  # the rest: shipped
        use_prompts(DEFAULT_PROMPTS)
        assert current_prompts() == DEFAULT_PROMPTS  # an earlier change does not linger
    finally:
        reset_prompts()


def test_a_replacement_must_keep_the_fields() -> None:
    with pytest.raises(InvalidArgumentError, match=r"missing \['text'\]"):
        set_prompt("summarize", "Summarize in {max_words} words.")
    with pytest.raises(InvalidArgumentError, match="Did you mean 'summarize'"):
        get_prompt("sumarize")


def test_braces_in_the_text_are_kept() -> None:
    assert render("sentiment", text="{not a field}").endswith("{not a field}")


def test_the_shipped_prompts_fit_any_text() -> None:
    for name, template in DEFAULT_PROMPTS.items():
        assert "review" not in template.lower(), name
    assert render("summarize", text="x", max_words=3) == (
        "Summarize this text in one complete sentence of at most 3 words. "
        "Only state what the text says.\n\nx"
    )
    assert get_prompt("summarize_answer") == ""
