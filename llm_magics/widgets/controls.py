"""Spec-driven controls: the ipywidget for an op's tunable ``Setting``, and its value read back.

An op declares the settings a panel may offer in its spec (``OpSpec.tunable``, widget-free, see
``llm_magics.ops.spec.Setting``); this module draws each kind as one widget, so a new op's
settings appear in the tuning panel with no edit here.

====================  ============================================================
``Setting.kind``      control
====================  ============================================================
``"int"``             ``IntSlider`` from ``low`` to ``high`` by ``step``
``"float"``           ``FloatSlider`` from ``low`` to ``high`` by ``step``
``"bool"``            ``Checkbox``
``"choice"``          ``Dropdown`` of ``choices``
``"text"``            ``Text`` (``placeholder`` shows an example)
``"count"``           ``BoundedIntText`` from ``low`` to ``high`` (0 stands for ``None``)
====================  ============================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from llm_magics.ops.spec import Setting
from llm_magics.widgets.shared import uncut

__all__ = ["control", "value_of"]


def _range(setting: Setting, kind: type) -> dict[str, Any]:
    """The slider's bounds the setting gives (ipywidgets' defaults for those it leaves out)."""
    bounds = {"min": setting.low, "max": setting.high, "step": setting.step}
    return {key: kind(value) for key, value in bounds.items() if value is not None}


def _int(setting: Setting, shown: Any) -> widgets.IntSlider:
    return widgets.IntSlider(value=shown, description=setting.label, **_range(setting, int))


def _float(setting: Setting, shown: Any) -> widgets.FloatSlider:
    return widgets.FloatSlider(value=shown, description=setting.label, **_range(setting, float))


def _bool(setting: Setting, shown: Any) -> widgets.Checkbox:
    return widgets.Checkbox(value=bool(shown), description=setting.label)


def _choice(setting: Setting, shown: Any) -> widgets.Dropdown:
    return widgets.Dropdown(value=shown, options=setting.choices, description=setting.label)


def _text(setting: Setting, shown: Any) -> widgets.Text:
    # A required argument without a default (labels, schema, condition) starts as an empty box.
    return widgets.Text(
        value="" if shown is None else shown,
        placeholder=setting.placeholder,
        description=setting.label,
    )


def _count(setting: Setting, shown: Any) -> widgets.BoundedIntText:
    bounds = {k: v for k, v in _range(setting, int).items() if k != "step"}
    return widgets.BoundedIntText(value=shown, description=setting.label, **bounds)


_CONTROLS: dict[str, Callable[[Setting, Any], widgets.ValueWidget]] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "choice": _choice,
    "text": _text,
    "count": _count,
}


def control(setting: Setting, value: Any) -> widgets.ValueWidget:
    """The widget for ``setting``, showing the argument value ``value``.

    Parameters
    ----------
    setting
        One of an op's ``OpSpec.tunable`` settings.
    value
        The argument's starting value (``setting.shown`` turns it into what the widget shows:
        ``["taste", "price"]`` → ``"taste, price"``).

    Returns
    -------
    ipywidgets.ValueWidget
        A slider, checkbox, dropdown or text box (see the module docs), described by
        ``setting.label``.

    Examples
    --------
    >>> from llm_magics.ops.spec import Setting
    >>> top = control(Setting("top", "int", "keywords", low=1, high=20, step=1), 5)
    >>> type(top).__name__, top.value, top.max
    ('IntSlider', 5, 20)
    """
    if setting.kind not in _CONTROLS:
        msg = f"Setting {setting.name!r} has kind {setting.kind!r}; kinds: {', '.join(_CONTROLS)}."
        raise ValueError(msg)
    made = _CONTROLS[setting.kind](setting, setting.shown(value))
    uncut(made)
    return made


def value_of(setting: Setting, widget: widgets.ValueWidget) -> Any:
    """The argument value ``widget`` stands for (``setting.value_of`` of what it shows).

    Raises ``InvalidArgumentError`` (from the setting's ``parse``) when the text cannot be read,
    e.g. an empty list of labels.

    Examples
    --------
    >>> from llm_magics.ops.spec import Setting
    >>> tokens = Setting("max_new_tokens", "count", "max tokens", low=0, high=4096)
    >>> value_of(tokens, control(tokens, None)) is None
    True
    """
    return setting.value_of(widget.value)
