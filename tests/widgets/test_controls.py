"""The spec-driven controls, and a tuning panel for an op the panel code has never heard of."""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets
import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from llm_magics import get_manager
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import OPERATIONS, SPECS, operation
from llm_magics.ops.spec import OpSpec, Setting, Uses
from llm_magics.widgets import TUNABLE, TunePanel
from llm_magics.widgets.controls import control, value_of

KINDS = {
    "int": widgets.IntSlider,
    "float": widgets.FloatSlider,
    "bool": widgets.Checkbox,
    "choice": widgets.Dropdown,
    "text": widgets.Text,
    "count": widgets.BoundedIntText,
}
SETTINGS = [(op, s) for op, spec in SPECS.items() for s in spec.tunable]


def test_the_panels_are_the_ops_that_declare_tunable_settings() -> None:
    assert list(TUNABLE) == [op for op, spec in SPECS.items() if spec.tunable]
    assert set(TUNABLE) == {"summarize", "classify", "sentiment", "extract", "filter", "keywords"}
    assert TUNABLE["classify"] is SPECS["classify"] and "embed" not in TUNABLE


@pytest.mark.parametrize(("op", "setting"), SETTINGS, ids=[f"{o}.{s.name}" for o, s in SETTINGS])
def test_each_setting_is_drawn_as_its_kind_within_its_range(op: str, setting: Setting) -> None:
    widget = control(setting, None if setting.kind in ("text", "count") else _middle(setting))
    assert isinstance(widget, KINDS[setting.kind]) and widget.description == setting.label
    if setting.kind in ("int", "float", "count"):
        assert (widget.min, widget.max) == (setting.low, setting.high)
    if setting.kind in ("int", "float"):
        assert widget.step == setting.step
    if setting.kind == "choice":
        assert widget.options == setting.choices
    if setting.kind == "text":
        assert widget.value == "" and widget.placeholder == setting.placeholder


def _middle(setting: Setting) -> Any:
    if setting.kind == "int":
        return int((setting.low + setting.high) // 2)
    if setting.kind == "float":
        return (setting.low + setting.high) / 2
    return setting.choices[-1] if setting.kind == "choice" else True


@pytest.mark.parametrize(
    ("op", "name", "value", "shown"),
    [
        ("classify", "labels", ["taste", "price"], "taste, price"),
        ("extract", "schema", {"item": "str", "price": "float"}, "item, price:float"),
        ("filter", "condition", "mentions a price", "mentions a price"),
        ("summarize", "max_new_tokens", None, 0),
        ("summarize", "max_new_tokens", 64, 64),
        ("summarize", "temperature", 0.5, 0.5),
        ("classify", "multi_label", True, True),
    ],
)
def test_a_control_shows_a_value_and_reads_it_back(
    op: str, name: str, value: Any, shown: Any
) -> None:
    setting = next(s for s in SPECS[op].tunable if s.name == name)
    widget = control(setting, value)
    assert widget.value == shown
    assert value_of(setting, widget) == value


def test_a_control_that_cannot_be_read_says_what_to_type() -> None:
    labels = next(s for s in SPECS["classify"].tunable if s.name == "labels")
    with pytest.raises(InvalidArgumentError, match="Type the labels"):
        value_of(labels, control(labels, None))


def test_an_unknown_kind_names_the_kinds() -> None:
    with pytest.raises(ValueError, match="kinds: int, float"):
        control(Setting("speed", "slider", "speed"), 1)  # type: ignore[arg-type]


# A toy op, registered by this test only: its panel comes from its spec alone.
TOY = OpSpec(
    name="shout",
    uses=(Uses("embed", "embed"),),
    by_method={"quiet": (Uses("embed", "embed"),), "loud": (Uses("chat", "generate"),)},
    outputs=("{column}_shout",),
    tunable=(
        Setting("times", "int", "times", low=1, high=3, step=1),
        Setting("method", "choice", "method", choices=("quiet", "loud")),
        Setting("end", "text", "ending", placeholder="!", required=True),
    ),
    tune_prompt="summarize",
    result_name="shouted",
)


@pytest.fixture
def shout(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setitem(SPECS, "shout", TOY)  # undone after the test: the op is forgotten
    monkeypatch.setitem(OPERATIONS, "shout", None)

    def shout(
        texts: pd.Series,
        *,
        times: int = 1,
        method: str = "quiet",
        end: str = "",
        instruction: str | None = None,
        **engine: Any,
    ) -> pd.Series:
        calls.append({"method": method, "instruction": instruction, **engine})
        return ((texts.str.upper() + end) * times).rename(f"{texts.name}_shout")

    operation(TOY)(shout)
    return calls


def test_an_op_registered_later_gets_a_panel_from_its_spec(shout: list[dict[str, Any]]) -> None:
    assert "shout" in TUNABLE and list(TUNABLE)[-1] == "shout"
    frame = pd.DataFrame({"review": ["late again", "fine", None]})
    panel = TunePanel(frame, "shout", "review", name="frame", namespace={}, end="!")
    assert [type(w) for w in panel.params.values()] == [
        widgets.IntSlider,
        widgets.Dropdown,
        widgets.Text,
    ]
    assert panel.variable.value == "review_shouted"
    config = get_manager().config
    assert panel.role == "embed" and panel.prompt.disabled
    assert panel.model.placeholder == f"default: {config.default_embed_model}"
    panel.params["method"].value = "loud"  # the chat model now, and its instruction box
    assert panel.role == "chat" and not panel.prompt.disabled
    assert "default-chat" in panel.model.options
    panel.params["times"].value = 2
    assert (
        panel.code()
        == "review_shouted = frame.llm.shout('review', times=2, method='loud', end='!')"
    )

    panel.preview(wait=True)
    assert panel.error is None, panel.status.value
    assert panel.previews[-1].table["review_shout"].tolist() == [
        "LATE AGAIN!LATE AGAIN!",
        "FINE!FINE!",
    ]
    # The run names its model: the role's default, decided when Preview was pressed.
    assert shout[-1]["model"] == config.default_chat_model and shout[-1]["method"] == "loud"
    panel.model.value = "default-chat"
    panel.prompt.value = "Shout it."
    panel.preview(wait=True)
    assert shout[-1]["model"] == "default-chat" and shout[-1]["instruction"] == "Shout it."


def test_mine_tune_opens_the_panel_of_an_op_registered_later(
    shout: list[dict[str, Any]], shell: InteractiveShell
) -> None:
    shell.user_ns["toys"] = pd.DataFrame({"review": ["late again"]})
    panel = shell.run_line_magic("mine", "tune shout toys.review")
    shell.user_ns.pop("toys")
    assert isinstance(panel, TunePanel) and (panel.op, panel.style) == ("shout", "mine")
    assert panel.plan_line() == "shout review  end=''"
