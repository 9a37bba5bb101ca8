"""``llm-mine``: llm_magics from a terminal (also ``python -m llm_magics``)."""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

from llm_magics.errors import LlmMagicsError

__all__ = ["main"]


def _shorten(text: str, width: int) -> str:
    return textwrap.shorten(" ".join(str(text).split()), width=width, placeholder=" ...")


def _demo(args: argparse.Namespace) -> int:
    from llm_magics.config import get_config
    from llm_magics.demo import run_demo
    from llm_magics.runtime.manager import get_manager

    if args.device:
        get_config().device = args.device
    manager = get_manager()
    print(f"Summarizing {args.rows} Amazon fine-food reviews with local models ...", flush=True)
    result = run_demo(args.rows, chat_model=args.chat_model, embed_model=args.embed_model)
    for model in manager.status()["models"]:
        print(
            f"  {model['role']:<6} {model['name']} on {model['device']} ({model['dtype']}, "
            f"{model['parameters'] / 1e6:.0f}M parameters, loaded in {model['load_seconds']:.1f} s)"
        )
    for number, row in enumerate(result.itertuples(), start=1):
        print(f"\n[{number}] {row.score:<5} review:  {_shorten(row.review, 110)}")
        print(f"    summary: {_shorten(row.summary, 110)}")
        print(f"    review/summary embedding similarity: {row.similarity:.3f}")
    print(f"\nMean similarity: {result['similarity'].mean():.3f}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-mine", description="Mine tables with local Hugging Face models."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="summarize real reviews with the default models and score the summaries"
    )
    demo.add_argument("--rows", type=int, default=5, help="how many reviews (default 5)")
    demo.add_argument("--chat-model", default=None, help="chat model (default: default-chat)")
    demo.add_argument(
        "--embed-model", default=None, help="embedding model (default: default-embed)"
    )
    demo.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps")
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``llm-mine``; return the exit status (errors print one line and return 1)."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except LlmMagicsError as err:
        print(f"llm-mine: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("llm-mine: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
