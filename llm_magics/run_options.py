"""The options of a plan run that ``%%mine`` and ``llm-mine run`` share, declared once.

Each option (flags, type, default, help) is declared here and added both to the CLI's argparse
parser (``add_to``) and to the ``%%mine`` magic (``magic_options``: IPython's
``@magic_arguments`` is argparse underneath, its ``@argument`` takes ``add_argument``'s
arguments). The parsed values become a frozen ``RunOptions``, checked once, whose
``run_arguments()`` are the keyword arguments of ``llm_magics.plan.run.mine_plan``.

Layer: an entry-point module; it imports the backend registry (``llm_magics.ops.backend``) and,
when the options name it, the Ray backend's ``backend_of``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from llm_magics.errors import InvalidArgumentError, warn
from llm_magics.ops.backend import LOCAL, backend_names

__all__ = ["OPTIONS", "Option", "RunOptions", "add_to", "magic_options"]

F = TypeVar("F", bound=Callable[..., Any])


class _Backends:
    """``--backend``'s choices: the registry's names when the options are parsed, not when
    the parser was built (a backend may register after ``%%mine`` is defined)."""

    def __contains__(self, name: object) -> bool:
        return name in backend_names()

    def __iter__(self) -> Iterator[str]:
        return iter(backend_names())


class _RenamedFlag(argparse.Action):
    """``--engine``, the old name of ``--backend``: stores into ``backend`` and warns once."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        warn(
            "--engine is now --backend ('engine' names the inference layer); --engine still "
            "works for now and will be removed in a later release.",
            FutureWarning,
        )
        setattr(namespace, self.dest, values)


@dataclass(frozen=True)
class Option:
    """One command-line option: ``add_argument``'s positional and keyword arguments."""

    flags: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)


OPTIONS: tuple[Option, ...] = (
    Option(
        ("--sample",),
        {"metavar": "N", "type": int, "help": "Run on N rows drawn at random (kept in order)."},
    ),
    Option(
        ("--model",),
        {
            "metavar": "SPEC",
            "help": "The chat model for this run (alias, Hugging Face id, folder or .gguf).",
        },
    ),
    Option(
        ("--no-cache",),
        {"action": "store_true", "help": "Neither read nor write the result cache."},
    ),
    Option(("--quiet",), {"action": "store_true", "help": "No progress bars and no summary."}),
    Option(
        ("--backend",),
        {
            "choices": _Backends(),
            "default": LOCAL,
            "help": "Where the rows are computed. ray: the row-wise steps on a Ray cluster, one "
            'model per worker (pip install "llm-magics[ray]").',
        },
    ),
    Option(
        ("--engine",),
        {
            "dest": "backend",
            "choices": _Backends(),
            "default": argparse.SUPPRESS,
            "action": _RenamedFlag,
            "help": argparse.SUPPRESS,
        },
    ),
    Option(
        ("--address",),
        {
            "metavar": "ADDRESS",
            "help": "The Ray cluster to join when not connected yet ('auto', "
            "'ray://head:10001'); default: RAY_ADDRESS, else a Ray on this machine.",
        },
    ),
    Option(
        ("--actors",),
        {"metavar": "N", "type": int, "help": "Ray workers (default: one per GPU, else per CPU)."},
    ),
)
"""The shared options, in the order their help lists them."""


def add_to(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the shared options to ``parser`` (the CLI's ``run`` command)."""
    for option in OPTIONS:
        parser.add_argument(*option.flags, **option.settings)
    return parser


def magic_options(function: F) -> F:
    """Add the shared options to a magic declared with IPython's ``@magic_arguments``.

    Put it among the ``@argument`` decorators, where the options should appear in the help.
    """
    from IPython.core.magic_arguments import argument

    # IPython applies a magic's decorators bottom-up, then builds the parser from them in
    # source order; adding ours in reverse keeps OPTIONS' order.
    for option in reversed(OPTIONS):
        function = argument(*option.flags, **option.settings)(function)
    return function


@dataclass(frozen=True)
class RunOptions:
    """The shared options of one run, parsed and checked.

    Parameters
    ----------
    sample
        Rows drawn at random, or ``None`` for all.
    model
        The chat model, or ``None`` for the default.
    cache
        Read and write the result cache.
    quiet
        No progress bars and no summary.
    backend
        Where the rows are computed: ``"local"``, another registered name, or a backend
        object (``RayBackend(address=..., actors=...)`` for ``--backend ray``).

    Examples
    --------
    >>> import argparse
    >>> parser = add_to(argparse.ArgumentParser())
    >>> RunOptions.of(parser.parse_args(["--sample", "5", "--quiet"])).run_arguments()
    {'sample': 5, 'model': None, 'cache': True, 'progress': False, 'backend': 'local'}
    """

    sample: int | None = None
    model: str | None = None
    cache: bool = True
    quiet: bool = False
    backend: Any = LOCAL

    @classmethod
    def of(cls, arguments: argparse.Namespace) -> RunOptions:
        """The options parsed into ``arguments``, checked; ``InvalidArgumentError`` says what
        is wrong with them."""
        if arguments.sample is not None and arguments.sample < 1:
            msg = f"--sample must be a positive number of rows, not {arguments.sample}."
            raise InvalidArgumentError(msg)
        backend: Any = arguments.backend
        if backend != LOCAL or arguments.address is not None or arguments.actors is not None:
            from llm_magics.backends.ray import backend_of

            backend = backend_of(backend, address=arguments.address, actors=arguments.actors)
        return cls(
            sample=arguments.sample,
            model=arguments.model,
            cache=not arguments.no_cache,
            quiet=arguments.quiet,
            backend=backend,
        )

    def run_arguments(self) -> dict[str, Any]:
        """The keyword arguments of ``mine_plan`` / ``run_mine`` these options stand for."""
        return {
            "sample": self.sample,
            "model": self.model,
            "cache": self.cache,
            "progress": not self.quiet,
            "backend": self.backend,
        }
