"""Progress bars: tqdm's, with a notebook bar that leaves a plain line behind when it ends.

``tqdm.auto`` draws an ipywidgets bar in a notebook. The widget's state lives in the kernel, so a
notebook saved and opened again shows "Error displaying widget: model not found" where each bar
was. Here the notebook bar is displayed with a display id and, when it closes, the output is
replaced by the bar's last line as plain text (``summarize · default-chat: 100%|███| 24/24
[00:10<00:00, 2.40rows/s]``), which every notebook viewer shows. The live bar is tqdm's own.
Outside a notebook ``tqdm`` here is ``tqdm.auto.tqdm`` itself.
"""

from __future__ import annotations

from typing import Any

from tqdm.auto import tqdm as _auto_tqdm

__all__ = ["tqdm"]


def _notebook_bar() -> type | None:
    """tqdm's notebook bar when ``tqdm.auto`` chose it (a kernel with ipywidgets), else None."""
    try:
        from tqdm.notebook import tqdm as notebook_tqdm
    except ImportError:  # pragma: no cover - tqdm always ships it
        return None
    return notebook_tqdm if issubclass(_auto_tqdm, notebook_tqdm) else None


_NOTEBOOK = _notebook_bar()

if _NOTEBOOK is None:
    tqdm = _auto_tqdm
else:

    class tqdm(_NOTEBOOK):  # type: ignore[no-redef,valid-type,misc]
        """``tqdm.notebook.tqdm`` whose widget becomes its last line, as text, when it closes."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            shown = kwargs.pop("display", True)
            self._handle: Any = None
            super().__init__(*args, display=False, **kwargs)
            if shown and not self.disable:
                from IPython.display import display

                self._handle = display(self.container, display_id=True)

        def close(self) -> None:
            """End the bar; in the notebook its widget becomes its last line, as text."""
            if self.disable:
                return
            handle, self._handle = self._handle, None
            super().close()
            if handle is None:
                return
            # leave=False: the bar goes away; else its last line stays, as text.
            line = str(self) if self.leave else ""
            handle.update({"text/plain": line}, raw=True)
            self.container.close()  # the widget's kernel side: nothing shows it any more
