"""Prompts that fit any text: do summaries state what a text says, or talk about it?

``python bench/prompts.py``.

A small chat model asked to "summarize this review" often answers the review's writer ("I'm glad
to hear that you found ...") or describes the review ("The review is spot on, but ..."), instead
of stating what the review says. This script summarizes real test reviews with the default chat
model under several prompts and counts, for each, the share of summaries that

- **address the reader**: a reply opening ("I'm glad to hear", "I'm sorry for", "Thank you",
  "It sounds like" ...), or a second-person word (you, your ...) that the text itself
  does not use (a text that says "you'll love it" may be summarized with "you"). A generic "you"
  ("keeps you awake") is counted too, so this kind is over-counted rather than missed;
- **describe the text**: a word that names the text or its writer (review, reviewer, the author,
  the writer, the user, the customer, this text, the post, the comment, summary ...) that the
  text itself does not use (a review that mentions "other reviews" may be summarized with it).

Everything else **states the content**. The rules are regular expressions (``talks_about``), so
every decision can be read and checked; ``--show`` prints examples of each kind, and
``bench/results/prompts.md`` reports the rule's accuracy on summaries checked by hand.

Variants are (instruction, answer prefix, clean HTML first); the answer prefix is written at the
start of the model's answer (``generate(answer_prefix=...)``) and the model continues it. The
``shipped`` variant runs ``summarize`` itself, as a user would.

It also scores ``sentiment`` (positive → great) with the review-specific question it shipped
with and with the shipped one (``--sentiment-rows``), as ``bench/quality.py`` does.

Results go to ``bench/results/prompts.json`` and ``bench/results/prompts.md``.

    python bench/prompts.py [--rows 200] [--max-words 15] [--variants before,shipped]
                            [--sentiment-rows 200] [--show 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-summaries-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

import llm_magics  # noqa: F401  (the accessors)
from llm_magics.datasets import amazon_reviews
from llm_magics.engine import embed, generate
from llm_magics.ops import sentiment, summarize
from llm_magics.ops.clean import strip_html
from llm_magics.ops.summarize import TOKENS_PER_WORD, _at_most

RESULTS = Path(__file__).parent / "results"

_SECOND_PERSON = re.compile(r"\b(?:you|your|yours|yourself|you're|you've|you'll|you'd)\b", re.I)
_REPLY = re.compile(
    r"^\W*(?:(?:i'm|i am|we're|we are)\s+(?:so\s+|very\s+|really\s+)?"
    r"(?:glad|sorry|happy|thrilled|delighted|pleased)\s+"
    r"(?:to (?:hear|know|see|help|have|share|provide)|for|that|you)"
    r"|thank|thanks|great to hear|good to hear|it sounds like|sounds like|it seems like you)",
    re.I,
)
_ABOUT = re.compile(
    r"\b(?:reviews?|reviewers?|reviewed|reviewing|author|writer|narrator|speaker|"
    r"(?:the|this) (?:user|customer|person|text|post|comment|passage|article|feedback|message)|"
    r"summary|summari[sz]e[sd]?)\b",
    re.I,
)

KINDS = ("addresses the reader", "describes the text", "states the content")


# Summaries read by hand (every 7th of the 200 rows; the rule's label was on screen, so this is
# a check of the rule, not a blind study). A summary that both replies and describes counts as a
# reply. ``talks_about`` is scored against these in the report.
_A, _D, _S = KINDS
# fmt: off
HAND_LABELS: dict[str, dict[int, str]] = {
    "before": {
        0: _D, 7: _S, 14: _A, 21: _S, 28: _S, 35: _S, 42: _S, 49: _A, 56: _A, 63: _S,
        70: _S, 77: _D, 84: _S, 91: _S, 98: _D, 105: _A, 112: _A, 119: _S, 126: _A,
        133: _S, 140: _A, 147: _S, 154: _A, 161: _D, 168: _D, 175: _S, 182: _D, 189: _A,
        196: _A,
    },
    # every 7th row, then every row the rule flagged (31 ... 193)
    "shipped": {
        0: _S, 7: _S, 14: _S, 21: _S, 28: _S, 35: _S, 42: _S, 49: _S, 56: _S, 63: _S,
        70: _S, 77: _S, 84: _S, 91: _S, 98: _D, 105: _S, 112: _S, 119: _S, 126: _S,
        133: _S, 140: _S, 147: _S, 154: _S, 161: _S, 168: _S, 175: _S, 182: _S, 189: _S,
        196: _S,
        31: _A, 47: _A, 64: _A, 67: _A, 80: _A, 94: _A, 95: _A, 104: _A, 113: _A, 123: _S,
        131: _S, 142: _S, 149: _S, 153: _A, 156: _S, 177: _A, 190: _S, 193: _D,
    },
}
# fmt: on


def opens_like(summary: str, text: str, words: int = 5) -> bool:
    """Whether the summary starts with the text's own first ``words`` words: a copy of the opening
    rather than a summary (the price of a forced answer start, if the model pays it)."""
    head = re.findall(r"[\w']+", text.lower())[:words]
    return len(head) == words and re.findall(r"[\w']+", summary.lower())[:words] == head


def talks_about(summary: str, text: str) -> str:
    """Which of ``KINDS`` a summary of ``text`` is (the first that applies).

    Examples
    --------
    >>> talks_about("I'm glad to hear that you found them tasty.", "Tasty chips.")
    'addresses the reader'
    >>> talks_about("The review is spot on, but too long.", "Great tea, fast shipping.")
    'describes the text'
    >>> talks_about("Great tea that arrived fast.", "Great tea, fast shipping.")
    'states the content'
    >>> talks_about("You will love these chips.", "You will love these!")
    'states the content'
    """
    own_words = {w.lower() for w in re.findall(r"[\w']+", text)}
    if _REPLY.search(summary) or any(
        m.group(0).lower() not in own_words for m in _SECOND_PERSON.finditer(summary)
    ):
        return KINDS[0]
    if any(m.group(0).split()[-1].lower() not in own_words for m in _ABOUT.finditer(summary)):
        return KINDS[1]
    return KINDS[2]


@dataclass(frozen=True)
class Variant:
    """One way of asking: ``instruction`` (with ``{max_words}``) + the text, ``answer_prefix``
    forced, the text's HTML stripped first or not; ``keep_prefix``: the prefix is part of the
    summary (a sentence start) rather than a lead-in."""

    instruction: str
    answer_prefix: str = ""
    clean: bool = False
    keep_prefix: bool = False


VARIANTS = {
    "before": Variant("Summarize this review in at most {max_words} words."),
    "text": Variant("Summarize this text in at most {max_words} words."),
    "text+clean": Variant("Summarize this text in at most {max_words} words.", clean=True),
    "in-short": Variant("Summarize this text in at most {max_words} words.", "In short,", True),
    "says-that": Variant(
        "Summarize this text in at most {max_words} words.", "The text says that", True
    ),
    "what-it-says": Variant("In at most {max_words} words, what does this text say?", clean=True),
    "main-point": Variant(
        "State the main point of this text in at most {max_words} words.", clean=True
    ),
}


def summaries_of(texts: list[str], name: str, max_words: int) -> tuple[list[str], dict[str, Any]]:
    """The summaries of ``texts`` under variant ``name`` (``shipped``: ``summarize`` itself)."""
    if name == "shipped":
        out = summarize(pd.Series(texts), max_words=max_words, progress=False)
        return out.fillna("").tolist(), {"op": "summarize", **out.attrs["llm_magics"]["parameters"]}
    v = VARIANTS[name]
    instruction = v.instruction.format(max_words=max_words)
    prompts = [f"{instruction}\n\n{strip_html(t) if v.clean else t}" for t in texts]
    out = generate(
        prompts,
        max_new_tokens=int(max_words * TOKENS_PER_WORD) + 8,
        answer_prefix=v.answer_prefix,
        progress=False,
    )
    lead = v.answer_prefix if v.keep_prefix else ""
    return [_at_most((lead + t).strip(), max_words) for t in out.texts], {
        "instruction": instruction,
        "answer_prefix": v.answer_prefix,
        "clean": v.clean,
        "keep_prefix": v.keep_prefix,
    }


OLD_SENTIMENT = (
    "Answer with one word: positive, negative or neutral. What is the sentiment of this review?"
)


def sentiment_scores(data: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Accuracy and macro-F1 of ``sentiment`` (positive → great) with the review-specific question
    it shipped with (``before``) and with the shipped prompt, raw and calibrated."""
    truth = data["score"].astype(str)
    out: dict[str, dict[str, float]] = {}
    for name, instruction in (("before", OLD_SENTIMENT), ("shipped", None)):
        for calibrate in (False, True):
            found = sentiment(
                data["review"], instruction=instruction, calibrate=calibrate, progress=False
            )
            mapped = found["sentiment"].map({"positive": "great"}).fillna("other")
            out[f"{name} ({'calibrated' if calibrate else 'raw'})"] = {
                "accuracy": float(accuracy_score(truth, mapped)),
                "macro_f1": float(f1_score(truth, mapped, average="macro")),
            }
    return out


def own_text_margin(summaries: list[str], texts: list[str]) -> float:
    """How much closer (cosine, default embedding model) a summary is to its own text than to the
    other texts, on average: whether it keeps what its text says."""
    a = embed([s or " " for s in summaries], progress=False).vectors
    b = embed(texts, progress=False).vectors
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    cross = a @ b.T
    others = (cross.sum() - np.trace(cross)) / (cross.size - len(cross))
    return float(np.diag(cross).mean() - others)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--max-words", type=int, default=15)
    parser.add_argument("--variants", default="before,shipped")
    parser.add_argument("--show", type=int, default=3, help="examples of each kind to print")
    parser.add_argument("--sentiment-rows", type=int, default=0, help="0: no sentiment check")
    parser.add_argument("--out", default="prompts", help="results file name, without suffix")
    args = parser.parse_args()
    warnings.simplefilter("ignore")

    texts = amazon_reviews("test")["review"].head(args.rows).tolist()
    results: dict[str, Any] = {"rows": len(texts), "max_words": args.max_words, "variants": {}}
    examples: dict[str, list[dict[str, str]]] = {}
    for name in filter(None, args.variants.split(",")):
        started = time.perf_counter()
        summaries, how = summaries_of(texts, name, args.max_words)
        kinds = [talks_about(s, t) for s, t in zip(summaries, texts, strict=True)]
        counts = {k: kinds.count(k) for k in KINDS}
        results["variants"][name] = {
            "how": how,
            "counts": counts,
            "talks_about_share": 1 - counts[KINDS[2]] / len(texts),
            "opens_like_the_text": sum(map(opens_like, summaries, texts)) / len(texts),
            "own_text_margin": own_text_margin(summaries, texts),
            "seconds": time.perf_counter() - started,
        }
        examples[name] = [
            {"row": i, "kind": k, "summary": s}
            for i, (s, k) in enumerate(zip(summaries, kinds, strict=True))
        ]
        print(f"\n== {name}: {counts}")
        for kind in KINDS:
            for e in [e for e in examples[name] if e["kind"] == kind][: args.show]:
                print(f"  [{kind}] {e['row']:>3}: {e['summary']}")
    results["summaries"] = examples
    kinds_by_variant = {name: [e["kind"] for e in ex] for name, ex in examples.items()}
    checked = [
        (name, row, label, kinds_by_variant[name][row])
        for name, labels in HAND_LABELS.items()
        if name in kinds_by_variant
        for row, label in labels.items()
        if row < len(texts)
    ]
    results["hand_check"] = {
        "summaries": len(checked),
        "same_kind": sum(hand == rule for _, _, hand, rule in checked),
        "same_talks_about_or_not": sum(
            (hand == _S) == (rule == _S) for _, _, hand, rule in checked
        ),
        "disagreements": [
            {
                "variant": name,
                "row": row,
                "hand": hand,
                "rule": rule,
                "summary": examples[name][row]["summary"],
            }
            for name, row, hand, rule in checked
            if hand != rule
        ],
    }
    if args.sentiment_rows:
        data = amazon_reviews("test").head(args.sentiment_rows)
        results["sentiment"] = {"rows": len(data), "scores": sentiment_scores(data)}

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    lines = [
        f"{r['rows']} Amazon fine-food test reviews, summarized in at most {r['max_words']} words "
        "by the default chat model (greedy).",
        "",
        "| prompt | addresses the reader | describes the text | states the content "
        "| talks about the text | opens with the text's first 5 words "
        "| closer to its own text than to others (cosine) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, v in r["variants"].items():
        c = v["counts"]
        lines.append(
            f"| {name} | {c[KINDS[0]]} | {c[KINDS[1]]} | {c[KINDS[2]]} | "
            f"{v['talks_about_share']:.1%} | {v['opens_like_the_text']:.1%} | "
            f"{v['own_text_margin']:+.3f} |"
        )
    lines.append("")
    for name, v in r["variants"].items():
        how = v["how"]
        if "op" in how:
            lines.append(f"- {name}: `summarize(max_words={r['max_words']})` as shipped")
        else:
            lines.append(
                f"- {name}: {how['instruction']!r}, answer started with {how['answer_prefix']!r}, "
                f"HTML {'stripped' if how['clean'] else 'kept'}"
            )
    h = r["hand_check"]
    if h["summaries"]:
        lines += [
            "",
            f"The rule against {h['summaries']} summaries read by hand: the same kind for "
            f"{h['same_kind']}, the same talks-about-or-not for {h['same_talks_about_or_not']}.",
        ]
        lines += [
            f"- {d['variant']} row {d['row']}: rule {d['rule']!r}, by hand {d['hand']!r}: "
            f"{d['summary']}"
            for d in h["disagreements"]
        ]
    if "sentiment" in r:
        lines += [
            "",
            f"`sentiment` on {r['sentiment']['rows']} of them, positive taken as great (five stars):",
            "",
            "| sentiment prompt | accuracy | macro-F1 |",
            "|---|---|---|",
        ]
        for name, s in r["sentiment"]["scores"].items():
            lines.append(f"| {name} | {s['accuracy']:.3f} | {s['macro_f1']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
