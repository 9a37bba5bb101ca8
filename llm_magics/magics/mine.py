"""``%%mine`` and ``%mine``: the notebook's way in, a thin layer over the Python API.

The cell magic parses its options and plan, checks the plan against the frame (a mistake is a
``UsageError`` with the line and column, before any model loads), runs ``mine_plan`` and puts the
enriched frame and the ``MineRun`` into the notebook's variables. The line magic reports and
manages the kernel's models and cache. Everything either does, the Python API does too.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from textwrap import dedent
from typing import Any

import pandas as pd
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import (
    MagicArgumentParser,
    argument,
    magic_arguments,
    parse_argstring,
)
from IPython.display import display

from llm_magics.errors import InvalidArgumentError, LlmMagicsError, did_you_mean
from llm_magics.plan import EXAMPLES, VERBS, Plan, PlanSyntaxError, check_plan, describe, parse_plan
from llm_magics.plan.estimate import estimate_plan
from llm_magics.plan.results import MineRun
from llm_magics.plan.runner import mine_plan
from llm_magics.run_options import RunOptions, magic_options
from llm_magics.runtime.manager import get_manager
from llm_magics.status import cache_report, models_report, status_report

__all__ = ["PLAN_HELP", "MineMagics"]

_PLAN_HELP = dedent(
    """
    A plan has one step per line:

        VERB COLUMN ["quoted text"] [-> OUTPUT, ...] [key=value ...]   # comment

    Verbs: {verbs}.
    After the column, `by NAME, ...` groups (aggregate review by product) and `with {{table}}`
    (or a file path) gives join its other table; aggregate, top_k and join make a new table
    that the lines after them work on.
    Keys are the keyword arguments of the verb's function (`%mine help VERB` lists them); values
    are Python literals (k=6, calibrate=False, labels=[a, b]) or plain words (model=default-chat).
    `{{name}}` is replaced by the value of the notebook variable `name`, exactly as it is (a text
    with quotes or `#`, a list, a number), also inside quoted text; never in a `#` comment.
    `{{{{` and `}}}}` are literal braces. Each step can use the columns the steps before it made.

    Example::

        %%mine reviews --out mined --sample 200
        {example}
    """
)


def plan_help() -> str:
    """What ``%mine help`` says: the plan language, every verb registered now, and an example."""
    return _PLAN_HELP.format(
        verbs=", ".join(VERBS),
        example="\n    ".join(
            EXAMPLES[v].split("  #")[0].rstrip()
            for v in ("clean", "summarize", "sentiment", "extract", "filter", "predict", "explain")
        ),
    )


PLAN_HELP = plan_help()
"""The plan language's help when this module was imported (``%%mine?`` shows it)."""

_SUBCOMMANDS = ("status", "models", "load", "unload", "use", "cache", "tune", "label", "help")
_LABEL_OPTIONS = ("labels", "into", "warmup", "pool", "seed", "model")


@dataclass(frozen=True)
class CellRequest:
    """A ``%%mine`` cell, parsed and checked: what to run, on what, and where to put it.

    ``options`` are those ``%%mine`` shares with ``llm-mine run`` (``llm_magics.run_options``).
    """

    name: str
    frame: pd.DataFrame
    plan: Plan
    out: str
    result: str | None
    dry_run: bool
    options: RunOptions


def _with_help(text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Append ``text`` to a magic's docstring (before ``magic_arguments`` builds its help)."""

    def add(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__doc__ = f"{inspect.cleandoc(function.__doc__ or '')}\n{text}"
        return function

    return add


def _parser(prog: str) -> MagicArgumentParser:
    return MagicArgumentParser(prog=prog)


@magics_class
class MineMagics(Magics):
    """The ``%%mine`` cell magic and the ``%mine`` line magic."""

    # ------------------------------------------------------------------------------ %%mine

    @magic_arguments(name="%mine")  # shown as %%mine
    @argument("dataframe", metavar="DATAFRAME", help="The DataFrame variable to run the plan over.")
    @argument(
        "--out",
        metavar="NAME",
        help="Variable for the enriched DataFrame (default: DATAFRAME_mined).",
    )
    @argument(
        "--result",
        metavar="NAME",
        help="Variable for the MineRun: per-step timings, rows, cache hits, models, mining result.",
    )
    @argument(
        "--dry-run",
        action="store_true",
        help="Show the plan, the models it loads and a time estimate from a few uncached rows; "
        "run nothing else.",
    )
    @magic_options
    @_with_help(PLAN_HELP)
    @cell_magic("mine")
    def mine_cell(self, line: str, cell: str) -> Any:
        """Run a plan, one step per line, over a DataFrame of the notebook.

        The enriched DataFrame goes to --out (the input is not changed), and the cell shows a
        summary and the charts that explain the run. Running the cell again after an
        interruption resumes: rows already computed come from the cache.
        """
        request = self.compile_cell(line, cell)
        options = request.options
        if request.dry_run:
            return estimate_plan(
                request.frame, request.plan, sample=options.sample, model=options.model
            )
        run = MineRun(plan=request.plan, frame=request.frame)
        namespace = self.shell.user_ns
        try:
            mine_plan(request.frame, request.plan, run=run, **options.run_arguments())
        except BaseException:
            if run.steps:
                namespace[request.out] = run.frame
                if request.result:
                    namespace[request.result] = run
                resume = "run the cell again to resume" + (
                    " (finished rows come from the cache)." if options.cache else "."
                )
                print(
                    f"%%mine stopped at {run.error}. The {len(run.steps)} step(s) before it are in "
                    f"`{request.out}`; {resume}",
                    file=sys.stderr,
                )
            raise
        namespace[request.out] = run.frame
        if request.result:
            namespace[request.result] = run
        if not options.quiet:
            display(run)
            for chart in run.charts():
                display(chart)
        return None

    def compile_cell(self, line: str, cell: str) -> CellRequest:
        """Parse the magic line and the plan and check them; raises only ``UsageError``."""
        try:
            args = parse_argstring(self.mine_cell, line)
        except ValueError as err:  # shlex: an unclosed quote
            msg = f"%%mine: cannot read the options ({err})."
            raise UsageError(msg) from None
        name = args.dataframe
        frame = self._frame(name)
        try:
            plan = parse_plan(cell, self.shell.user_ns)
            check_plan(plan, frame.columns)
        except PlanSyntaxError as err:
            msg_0 = f"%%mine: {err}"
            raise UsageError(msg_0) from None
        for option in ("out", "result"):
            value = getattr(args, option)
            if value is not None and not value.isidentifier():
                msg = f"--{option} must be a variable name, not {value!r}."
                raise UsageError(msg)
        try:
            options = RunOptions.of(args)
        except InvalidArgumentError as err:
            msg = f"%%mine: {err}"
            raise UsageError(msg) from None
        return CellRequest(
            name=name,
            frame=frame,
            plan=plan,
            out=args.out or f"{name.replace('.', '_')}_mined",
            result=args.result,
            dry_run=args.dry_run,
            options=options,
        )

    def _frame(self, name: str) -> pd.DataFrame:
        namespace = self.shell.user_ns
        head, *attributes = name.split(".")
        if head not in namespace:
            frames = [
                k
                for k, v in namespace.items()
                if isinstance(v, pd.DataFrame) and not k.startswith("_")
            ]
            msg = (
                f"%%mine: no variable {head!r}.{did_you_mean(head, frames)} "
                f"DataFrames here: {', '.join(frames) or 'none'}."
            )
            raise UsageError(msg)
        value = namespace[head]
        for attribute in attributes:
            value = getattr(value, attribute, None)
        if not isinstance(value, pd.DataFrame):
            msg = f"%%mine: {name!r} is a {type(value).__name__}, not a pandas DataFrame."
            raise UsageError(msg)
        return value

    # ------------------------------------------------------------------------------- %mine

    @line_magic("mine")
    def mine_line(self, line: str) -> Any:
        """Models, memory, jobs and cache of this kernel.

        ::

          %mine status                       models, memory per device, jobs, cache
          %mine models                       aliases and loaded models
          %mine load SPEC [--role chat|embed|classifier] [--device DEVICE] [--dtype DTYPE]
          %mine unload SPEC | --all
          %mine use chat=SPEC embed=SPEC     the default models of this kernel
          %mine cache [info|clear]           the result cache
          %mine tune OP DATAFRAME.COLUMN     a panel to tune an op on a sample (--sample N,
                                             --python: copy a df.llm call, not a %%mine cell)
          %mine tune RUN                     a panel to re-run the model selection of a
                                             %%mine --result RUN (or: RESULT DATAFRAME)
          %mine label DATAFRAME.COLUMN labels=[great, other] [into=label]
                                             a panel to label rows one at a time, the most
                                             uncertain next; labels go into DATAFRAME[into]
                                             and survive a restart (warmup=, pool=, seed=,
                                             model=)
          %mine help [VERB]                  the plan language of %%mine, or one verb

        SPEC is an alias (default-chat, default-embed, ...), a Hugging Face id, a local folder or
        a .gguf file.
        """
        command, _, rest = line.strip().partition(" ")
        command = command or "status"
        if command not in _SUBCOMMANDS:
            msg = (
                f"%mine: unknown command {command!r}.{did_you_mean(command, _SUBCOMMANDS)} "
                f"Commands: {', '.join(_SUBCOMMANDS)}."
            )
            raise UsageError(msg)
        try:
            return getattr(self, f"_{command}")(rest.strip())
        except InvalidArgumentError as err:
            msg = f"%mine {command}: {err}"
            raise UsageError(msg) from None
        except ValueError as err:  # shlex: an unclosed quote
            msg = f"%mine {command}: cannot read the arguments ({err})."
            raise UsageError(msg) from None

    def _status(self, rest: str) -> Any:
        self._no_arguments("status", rest)
        return status_report()

    def _models(self, rest: str) -> Any:
        self._no_arguments("models", rest)
        return models_report()

    def _load(self, rest: str) -> Any:
        parser = _parser("%mine load")
        parser.add_argument("spec")
        parser.add_argument("--role", choices=("chat", "embed", "classifier"))
        parser.add_argument("--device")
        parser.add_argument("--dtype")
        args = parser.parse_argstring(rest)
        manager = get_manager()
        manager.load(args.spec, role=args.role, device=args.device, dtype=args.dtype)
        return status_report(manager)

    def _unload(self, rest: str) -> Any:
        parser = _parser("%mine unload")
        parser.add_argument("spec", nargs="?")
        parser.add_argument("--all", action="store_true")
        args = parser.parse_argstring(rest)
        if bool(args.spec) == args.all:
            msg = "%mine unload: name one model, or pass --all."
            raise UsageError(msg)
        manager = get_manager()
        try:
            count = manager.unload_all() if args.all else manager.unload(args.spec)
        except LlmMagicsError:  # a name that resolves to no model is not loaded either
            count = 0
        if not count:
            loaded = [m.name for m in manager.loaded()]
            msg = (
                f"%mine unload: {args.spec!r} is not loaded.{did_you_mean(args.spec, loaded)} "
                f"Loaded: {', '.join(loaded) or 'none'}."
            )
            raise UsageError(msg)
        print(f"Unloaded {count} model(s).")
        return status_report(manager)

    def _use(self, rest: str) -> Any:
        pairs = [p for p in rest.split() if p]
        if not pairs:
            msg = "%mine use: write chat=SPEC and/or embed=SPEC."
            raise UsageError(msg)
        manager = get_manager()
        chosen = {}
        for pair in pairs:
            role, sep, spec = pair.partition("=")
            if not sep or role not in ("chat", "embed") or not spec:
                msg = (
                    f"%mine use: {pair!r} is not chat=SPEC or embed=SPEC."
                    f"{did_you_mean(role, ('chat', 'embed'))}"
                )
                raise UsageError(msg)
            # Checked now, not at the next operation: an id that is neither cached nor reachable
            # is refused here with the ways out.
            manager.find(spec, role=role)  # type: ignore[arg-type]
            chosen[role] = spec
        for role, spec in chosen.items():
            setattr(manager.config, f"default_{role}_model", spec)
        return models_report(manager)

    def _cache(self, rest: str) -> Any:
        if rest not in ("", "info", "clear"):
            msg = (
                f"%mine cache: {rest!r} is not info or clear."
                f"{did_you_mean(rest, ('info', 'clear'))}"
            )
            raise UsageError(msg)
        return cache_report(clear=rest == "clear")

    def _tune(self, rest: str) -> Any:
        from llm_magics.mining import MiningResult
        from llm_magics.plan.results import MineRun
        from llm_magics.widgets import TUNABLE, MiningTunePanel, TunePanel

        parser = _parser("%mine tune")
        parser.add_argument("what", help="An op (summarize, classify ...) or a %%mine run.")
        parser.add_argument("where", nargs="?", help="DATAFRAME.COLUMN, or DATAFRAME")
        parser.add_argument("column", nargs="?", help="The column, if not after a dot.")
        parser.add_argument("--sample", type=int, default=8, help="Rows in the preview.")
        parser.add_argument("--python", action="store_true", help="Copy a df.llm call.")
        args = parser.parse_argstring(rest)
        namespace = self.shell.user_ns
        value = namespace.get(args.what)
        if isinstance(value, (MineRun, MiningResult)):
            result = value.result if isinstance(value, MineRun) else value
            if result is None:
                msg = f"%mine tune: the run {args.what!r} has no predict step to tune."
                raise UsageError(msg)
            if args.where is None and isinstance(value, MiningResult):
                msg = f"%mine tune {args.what} DATAFRAME: name the frame it was mined from."
                raise UsageError(msg)
            frame = self._frame(args.where) if args.where else value.frame
            return MiningTunePanel(result, frame, name=args.where)
        if args.what not in TUNABLE:
            msg = (
                f"%mine tune: {args.what!r} is neither an op with a panel nor a %%mine run."
                f"{did_you_mean(args.what, TUNABLE)} Ops: {', '.join(TUNABLE)}."
            )
            raise UsageError(msg)
        if args.where is None:
            msg = f"%mine tune {args.what} DATAFRAME.COLUMN: name the text column."
            raise UsageError(msg)
        name, column = self._frame_and_column(args.where, args.column)
        return TunePanel(
            self._frame(name),
            args.what,
            column,
            name=name,
            style="python" if args.python else "mine",
            sample=args.sample,
        )

    def _label(self, rest: str) -> Any:
        from llm_magics.plan import parse_plan
        from llm_magics.widgets import LabelPanel

        usage = "%mine label DATAFRAME.COLUMN labels=[great, other] [into=label]"
        try:  # the plan language's words: labels=[a, b], into=name, {variable}
            steps = parse_plan(f"label {rest}", self.shell.user_ns).steps
        except PlanSyntaxError as err:
            msg = f"%mine label: {err}; write {usage}."
            raise UsageError(msg) from None
        step = steps[0] if steps else None
        if step is None or len(step.columns) != 1 or step.outputs or step.arguments:
            msg = f"%mine label: write {usage}."
            raise UsageError(msg)
        unknown = [key for key in step.options if key not in _LABEL_OPTIONS]
        if unknown:
            msg = (
                f"%mine label: no option {unknown[0]!r}.{did_you_mean(unknown[0], _LABEL_OPTIONS)} "
                f"Options: {', '.join(_LABEL_OPTIONS)}."
            )
            raise UsageError(msg)
        if "labels" not in step.options:
            msg = f"%mine label: name the labels: {usage}."
            raise UsageError(msg)
        name, column = self._frame_and_column(step.columns[0], None, command="label")
        options = dict(step.options)
        return LabelPanel(self._frame(name), options.pop("labels"), column, **options)

    def _frame_and_column(
        self, where: str, column: str | None, *, command: str = "tune"
    ) -> tuple[str, str]:
        """``reviews.review`` → ("reviews", "review"); the frame part may itself be dotted."""
        if column is not None:
            return where, column
        parts = where.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            name, column = ".".join(parts[:cut]), ".".join(parts[cut:])
            try:
                frame = self._frame(name)
            except UsageError:
                continue
            if column in frame.columns:
                return name, column
            msg = (
                f"%mine {command}: {name!r} has no column {column!r}."
                f"{did_you_mean(column, [str(c) for c in frame.columns])} "
                f"Columns: {', '.join(map(str, frame.columns))}."
            )
            raise UsageError(msg)
        self._frame(parts[0])  # says which variable is missing
        msg = f"%mine {command}: write DATAFRAME.COLUMN (or DATAFRAME COLUMN), not {where!r}."
        raise UsageError(msg)

    def _help(self, rest: str) -> Any:
        commands = inspect.cleandoc(self.mine_line.__doc__ or "").partition("::")[2].strip("\n")
        if rest in _SUBCOMMANDS and rest not in VERBS:  # %mine help label: that command's lines
            return _Help(_command_help(commands, rest))
        if rest:
            return _Help(describe(rest))
        return _Help(f"{plan_help().strip()}\n\nThe %mine line magic:\n\n{commands}")

    @staticmethod
    def _no_arguments(command: str, rest: str) -> None:
        if rest:
            msg = f"%mine {command} takes no arguments (got {rest!r})."
            raise UsageError(msg)


def _command_help(commands: str, command: str) -> str:
    """The lines of ``%mine``'s command table about ``command`` (with their continuations)."""
    lines, keep = [], False
    for line in commands.splitlines():
        if line.lstrip().startswith("%mine "):
            keep = (
                line.lstrip().startswith(f"%mine {command} ") or line.strip() == f"%mine {command}"
            )
        elif not line.strip():
            keep = False
        if keep:
            lines.append(line)
    return dedent("\n".join(lines))


@dataclass(frozen=True)
class _Help:
    text: str

    def __repr__(self) -> str:
        return self.text
