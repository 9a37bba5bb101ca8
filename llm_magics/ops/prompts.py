"""Every prompt the operations send, in one place, and how to change them.

Prompts are written for small models too: short, one instruction, and the row's text last, so
every row of a call starts with the same tokens and the engine computes them once. ``filter``
and ``extract_bool`` are the exceptions: with the question after the text the quality model's
yes-bias shrank (see their comments), worth the 26% more time the lost prefix costs. ``{text}`` marks where the row goes;
other fields are filled from the operation's arguments.

A template ending in ``_answer`` is not a question but the first words of the model's answer,
which the model continues (``generate(answer_prefix=...)``). ``summarize_answer`` is empty: the
135M model asked to summarize often answered the writer ("I'm glad to hear that you ...") unless
made to continue "In short," (``bench/prompts.py``), but the quality model, now the default,
wrote more faithful summaries without it (see the comment on ``summarize``); set it again
(``set_prompt("summarize_answer", "In short,")``) for a small model.

Change a prompt for the whole kernel with ``set_prompt`` (``reset_prompts`` undoes it), or pass
``instruction=`` to the operations that take one.

Examples
--------
>>> render("summarize", text="Great tea.", max_words=10)
'Summarize this text in one complete sentence of at most 10 words. Only state what the text says.\\n\\nGreat tea.'
"""

from __future__ import annotations

from typing import Any

from llm_magics.errors import InvalidArgumentError, did_you_mean

__all__ = [
    "DEFAULT_PROMPTS",
    "current_prompts",
    "get_prompt",
    "render",
    "reset_prompts",
    "set_prompt",
    "use_prompts",
]

DEFAULT_PROMPTS: dict[str, str] = {
    # One complete sentence, only what the text says, asked in the text's own language (which
    # makes a model answer in it): 40 of 50 summaries by the quality model were faithful, read by
    # hand, against 31 with "Summarize this text in at most N words." and the answer started with
    # "In short," (the 135M model's best prompt, bench/prompts.py); German answers were telegraphic
    # and Chinese ones clipped with the old prompts.
    "summarize": "Summarize this text in one complete sentence of at most {max_words} words. "
    "Only state what the text says.\n\n{text}",
    "summarize_answer": "",
    "summarize_de": "Fasse diesen Text in einem vollständigen Satz mit höchstens {max_words} "
    "Wörtern zusammen. Gib nur wieder, was im Text steht.\n\n{text}",
    "summarize_zh": "用一句完整的话（不超过{max_chars}个字）概括这段文字，只写文中说到的内容。\n\n{text}",
    "summarize_other": "Summarize this text in one complete sentence of at most {max_words} words, "
    "written in {language}. Only state what the text says.\n\n{text}",
    "classify": "{question}\n\n{text}",
    "classify_question": "Which of these best describes the text: {labels}? Answer with one of them.",
    # few-shot "llm": the examples come first, so every row's prompt shares them as its prefix.
    "fewshot": "{question} Some texts with their answers:\n\n{examples}\n\nNow this text.\n\n{text}",
    "fewshot_example": "Text: {example}\nAnswer: {label}",
    "sentiment": "Answer with one word: positive, negative or neutral. What is the sentiment of "
    "this text?\n\n{text}",
    # The text first, the question last: on 120 real reviews asked "the review is positive"
    # the quality model said yes to 80% (92% with the question first), agreed with sentiment on
    # 88% (77%) and with the stars on 80% (70%).
    "filter": "{text}\n\nAnswer yes or no. Is this true of the text above: {condition}?",
    "filter_question": "Answer yes or no. Is this true of the text: {condition}?",
    "extract_text": "What is the {field} in this text? Answer with a few words only.\n\n{text}",
    "extract_number": "What is the {field} in this text? Answer with a number only, or none if "
    "the text does not give it.\n\n{text}",
    "extract_choice": "Which {field} does this text mention: {choices}?\n\n{text}",
    # After the text, as filter's: asked first, the quality model said yes to all of 7 short
    # reviews for "complaint" (3 are praise); asked after, 6 of 7 were right.
    "extract_bool": "{text}\n\nAnswer yes or no. Does the text above mention {field}?",
    "topic_label": "Give a short name (two to four words) for a topic with these keywords: "
    "{keywords}.",
    "dedup": "both lines name the same thing (the same job, entity or item), written differently",
    "join": "Answer yes or no. Is this true of the two texts: {condition}?",
    "join_pair": "{left_name}: {left}\n\n{right_name}: {right}",
    "top_k": "Answer yes or no. Is this text about {query}?",
    # aggregate: the texts (or partial answers) of one chunk follow, numbered "Text 1: ...".
    "aggregate": "Read the texts below. {instruction} Answer in at most {max_words} words.",
    "aggregate_combine": "Below are answers, each about a part of the same collection of texts, "
    "to: {instruction} Combine them into one answer in at most {max_words} words.",
    "aggregate_summary": "Summarize what they say.",
    # Added to the question when most texts are Chinese or German (``aggregate``).
    "aggregate_in_zh": "请用中文回答。",
    "aggregate_in_de": "Antworte auf Deutsch.",
}
"""The shipped prompts; ``get_prompt`` returns the kernel's current ones."""

_prompts = dict(DEFAULT_PROMPTS)


def get_prompt(name: str) -> str:
    """The current template called ``name``."""
    if name not in _prompts:
        msg = f"No prompt {name!r}.{did_you_mean(name, _prompts)} Prompts: {', '.join(_prompts)}."
        raise InvalidArgumentError(msg)
    return _prompts[name]


def set_prompt(name: str, template: str) -> None:
    """Replace the template ``name`` for this kernel; it must keep the fields of the shipped one."""
    needed = _fields(get_prompt(name))
    missing = needed - _fields(template)
    if missing:
        msg = f"The {name!r} prompt needs the fields {sorted(needed)}; missing {sorted(missing)}."
        raise InvalidArgumentError(msg)
    _prompts[name] = template


def reset_prompts() -> None:
    """Go back to the shipped prompts."""
    _prompts.clear()
    _prompts.update(DEFAULT_PROMPTS)


def current_prompts() -> dict[str, str]:
    """The kernel's templates now (shipped ones and ``set_prompt`` changes), as a new dict: what a
    Ray worker needs to ask what this kernel would ask."""
    return dict(_prompts)


def use_prompts(templates: dict[str, str]) -> None:
    """Make ``templates`` (from ``current_prompts()``) this process's prompts: a Ray worker's
    prompts become the driver's, including its ``set_prompt`` changes."""
    _prompts.clear()
    _prompts.update(DEFAULT_PROMPTS | templates)


def render(name: str, **fields: Any) -> str:
    """The template ``name`` with ``fields`` filled in."""
    return get_prompt(name).format(**fields)


def _fields(template: str) -> set[str]:
    import string

    return {f for _, f, _, _ in string.Formatter().parse(template) if f}
