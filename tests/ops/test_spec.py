"""A new operation is one module: its spec and function, and every entry point offers it.

The toy op ``shout`` (each text in capitals, row by row, no model, one tunable setting) is
written as a module of its own in a folder of the ops package; nothing else is edited, yet ``df.llm``,
``series.llm``, the plan language, ``%%mine`` checking, the row-wise set, a registered backend and
the tuning panel all know it. The fixture removes it again, so other tests never see it.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pandas as pd
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import llm_magics
from llm_magics import ops
from llm_magics.ops import backend as backends
from llm_magics.ops.base import OPERATIONS, SPECS, row_ops
from llm_magics.plan import PlanSyntaxError, check_plan, describe, parse_plan

TOY_MODULE = '''
"""``shout``: each text in capitals."""

from __future__ import annotations

import pandas as pd

from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.spec import OpSpec, Setting

SPEC = OpSpec(
    name="shout",
    outputs=("{column}_loud",),
    engine_arguments=(),
    example="shout note -> loud  exclaim=True",
    tunable=(Setting("exclaim", "bool", "exclamation mark"),),
    result_name="loud",
    chart="keywords",
)


@operation(SPEC)
def shout(texts: pd.Series, *, exclaim: bool = False) -> pd.Series:
    """Each text in capitals.

    Parameters
    ----------
    texts
        The text column.
    exclaim
        End each text with an exclamation mark.

    Returns
    -------
    pandas.Series
        ``<column>_loud`` on the same index; missing texts give NaN.
    """
    column = TextColumn.of(texts, "shout")
    loud = [t.upper() + ("!" if exclaim else "") for t in column.texts]
    result = column.series(loud, name=f"{column.name}_loud")
    record_provenance(result, "shout", {"exclaim": exclaim})
    return result
'''

NOTES = pd.DataFrame({"note": ["hi there", None, "be quiet"], "n": [1, 2, 3]}, index=[4, 2, 9])


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[ModuleType]:
    """The ``shout`` module, a file of its own in a folder of the ops package: registered the way
    importing ``llm_magics.ops`` registers every module there; unregistered afterwards."""
    (tmp_path / "shout.py").write_text(TOY_MODULE)
    ops.__path__.append(str(tmp_path))
    try:
        assert ops._register_other_modules() == ["shout"]
        yield sys.modules["llm_magics.ops.shout"]
    finally:
        ops.__path__.remove(str(tmp_path))
        OPERATIONS.pop("shout", None)
        SPECS.pop("shout", None)
        sys.modules.pop("llm_magics.ops.shout", None)
        vars(ops).pop("shout", None)
        if "shout" in ops.__all__:
            ops.__all__.remove("shout")


def test_the_toy_op_is_registered_and_row_wise(toy: ModuleType) -> None:
    assert OPERATIONS["shout"] is toy.shout is ops.shout and SPECS["shout"] is toy.SPEC
    assert "shout" in ops.__all__
    assert "shout" in row_ops()
    assert list(inspect.signature(toy.shout).parameters) == ["texts", "exclaim", "backend"]
    assert "    backend\n" in (toy.shout.__doc__ or "")


def test_the_toy_op_is_a_method_of_both_accessors(toy: ModuleType) -> None:
    expected = pd.Series(["HI THERE!", float("nan"), "BE QUIET!"], index=[4, 2, 9], dtype=object)
    on_frame = NOTES.llm.shout("note", exclaim=True)
    on_series = NOTES["note"].llm.shout(exclaim=True)
    pd.testing.assert_series_equal(on_frame, expected, check_names=False)
    pd.testing.assert_series_equal(on_series, on_frame)
    assert "shout" in dir(NOTES.llm) and "shout" in dir(NOTES["note"].llm)
    assert list(inspect.signature(NOTES.llm.shout).parameters) == ["column", "exclaim", "backend"]
    assert "Each text in capitals." in (NOTES.llm.shout.__doc__ or "")


def test_the_toy_op_is_gone_after_its_fixture() -> None:
    assert "shout" not in OPERATIONS and "shout" not in SPECS
    assert "shout" not in dir(NOTES.llm)
    with pytest.raises(AttributeError):
        NOTES.llm.shout  # noqa: B018
    with pytest.raises(PlanSyntaxError, match="unknown verb 'shout'"):
        check_plan(parse_plan("shout note"), NOTES.columns)


def test_the_toy_op_is_a_plan_verb(toy: ModuleType) -> None:
    plan = parse_plan("shout note -> loud  exclaim=True")
    check_plan(plan, NOTES.columns)
    assert "shout note -> loud  exclaim=True" in describe("shout")
    assert "  exclaim=False" in describe("shout")
    run = llm_magics.run_mine(NOTES, "shout note -> loud", progress=False)
    assert run.frame["loud"].tolist()[::2] == ["HI THERE", "BE QUIET"]
    with pytest.raises(PlanSyntaxError, match="shout makes one column"):
        check_plan(parse_plan("shout note -> a, b"), NOTES.columns)


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llm_magics")
    shell.user_ns["notes"] = NOTES
    yield shell
    shell.user_ns.pop("notes", None)


def test_mine_cells_check_the_toy_op(toy: ModuleType, shell: InteractiveShell) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_cell_magic("mine", "notes --quiet", "shout note  volume=11")
    first, *source = str(caught.value).splitlines()
    assert first.startswith("%%mine: line 1")
    assert "shout takes no option 'volume'" in first and "Options: exclaim, backend" in first
    assert [line.strip() for line in source] == ["shout note  volume=11", "^"]


def test_mine_help_lists_the_toy_op(toy: ModuleType, shell: InteractiveShell) -> None:
    verbs = next(
        line
        for line in repr(shell.run_line_magic("mine", "help")).splitlines()
        if line.startswith("Verbs:")
    )
    assert "shout" in verbs
    assert repr(shell.run_line_magic("mine", "help shout")).startswith("shout: ")


class _Recorder:
    """A backend that computes here and notes each call."""

    calls: ClassVar[list[tuple[str, pd.Series, dict[str, Any]]]] = []

    def run_series(self, op: str, texts: pd.Series, **kwargs: Any) -> pd.Series:
        self.calls.append((op, texts, kwargs))
        return OPERATIONS[op](texts, **kwargs)


def test_a_registered_backend_receives_the_toy_op(toy: ModuleType) -> None:
    backends.register_backend("recorder", _Recorder)
    _Recorder.calls.clear()
    try:
        out = NOTES.llm.shout("note", exclaim=True, backend="recorder")
    finally:
        backends._LOADERS.pop("recorder", None)
    [(op, texts, kwargs)] = _Recorder.calls
    assert (op, kwargs) == ("shout", {"exclaim": True})
    pd.testing.assert_series_equal(texts, NOTES["note"])
    assert out.tolist()[::2] == ["HI THERE!", "BE QUIET!"]


def test_the_tune_panel_builds_a_control_for_the_toy_setting(toy: ModuleType) -> None:
    from llm_magics import widgets

    panel = widgets.TunePanel(NOTES["note"], "shout")
    assert "exclaim" in panel.params
