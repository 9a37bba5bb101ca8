"""What both panels need from the notebook: its variables, the next cell, and error text."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from llm_magics.errors import LlmMagicsError

__all__ = ["error_html", "find_name", "notebook_shell", "send_to_next_cell", "uncut"]

NEXT_CELL_NOTE = (
    "The code is in the box below, and goes into a new cell when a cell next runs "
    "(Jupyter delivers it with the next execution)."
)


def notebook_shell() -> Any:
    """The running IPython shell, or ``None`` outside IPython."""
    from IPython import get_ipython

    return get_ipython()


def find_name(value: Any, namespace: Mapping[str, Any], fallback: str) -> str:
    """The first public variable of ``namespace`` that is ``value`` itself, else ``fallback``."""
    for name, candidate in namespace.items():
        if candidate is value and not name.startswith("_"):
            return name
    return fallback


def send_to_next_cell(code: str) -> bool:
    """Ask the notebook to put ``code`` in a new cell below; ``False`` outside IPython.

    A button click reaches the kernel as a comm message, and Jupyter only delivers
    ``set_next_input`` with the reply to an execution, so the cell appears when a cell next runs.
    """
    shell = notebook_shell()
    if shell is None:
        return False
    shell.set_next_input(code, replace=False)
    return True


def error_html(err: BaseException) -> str:
    """``err`` as one red line (our errors by their message, others with their type)."""
    text = str(err) if isinstance(err, LlmMagicsError) else f"{type(err).__name__}: {err}"
    return f"<span style='color:#c0392b'>{html.escape(text)}</span>"


def uncut(*controls: Any) -> None:
    """Give each control's description the width it needs: ipywidgets cuts one longer than
    about ten characters ("sample ro…")."""
    for widget in controls:
        style = getattr(widget, "style", None)
        if style is not None and hasattr(style, "description_width"):
            style.description_width = "initial"
