"""What both panels share: one background run at a time, its progress bar, Cancel, Copy code.

A panel subclass builds its widgets (``status``, ``code_view``, ``progress``, ``progress_text``,
``cancel_button`` and the buttons that start runs, listed in ``_busy``), says what its code is
(``code()``), and starts work with ``_launch``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from llm_magics.engine.jobs import Job
from llm_magics.errors import InvalidArgumentError, RunInterruptedError
from llm_magics.runtime.manager import ModelManager
from llm_magics.units import format_seconds
from llm_magics.widgets.background import BackgroundRun
from llm_magics.widgets.shared import NEXT_CELL_NOTE, error_html, send_to_next_cell

__all__ = ["BackgroundPanel"]


class BackgroundPanel:
    """The run, progress, cancel and copy-code behaviour of a tuning panel."""

    widget: Any
    status: Any
    code_view: Any
    progress: Any
    progress_text: Any
    cancel_button: Any
    manager: ModelManager
    error: BaseException | None = None
    _run: BackgroundRun | None = None
    _busy: tuple[Any, ...] = ()

    def code(self) -> str:
        """The Python code that does what the panel does; each panel defines it."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def running(self) -> bool:
        """Whether a background run was started and has not ended."""
        return self._run is not None and self._run.running

    def cancel(self) -> None:
        """Stop the running work at its next batch (or fold); finished rows stay cached."""
        if self._run is not None and self._run.running:
            self._run.cancel()
            self.status.value = "Cancelling after this batch…"

    def copy_code(self) -> str:
        """Put the code in the next cell (``set_next_input``) and return it."""
        code = self.code()
        self.code_view.value = code
        if send_to_next_cell(code):
            self.status.value = NEXT_CELL_NOTE
        return code

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running work; ``False`` if it still runs after ``timeout`` seconds."""
        return self._run is None or self._run.join(timeout)

    def _changed(self, change: Any = None) -> None:
        try:
            self.code_view.value = self.code()
        except InvalidArgumentError as err:
            self.code_view.value = f"# {err}"

    def _launch(
        self, work: Callable[[], Any], done: Callable[[Any], None], message: str, *, wait: bool
    ) -> None:
        if self.running:
            self.status.value = "Still running: wait for it or press Cancel."
            return
        self.error = None
        self.status.value = html.escape(message)
        for button in self._busy:
            button.disabled = True
        self.cancel_button.disabled = False
        self.progress.value = 0
        self.progress.layout.visibility = "visible"
        self.progress_text.value = ""

        def finished(value: Any) -> None:
            done(value)
            self._idle()

        self._run = BackgroundRun(
            work,
            manager=self.manager,
            on_done=finished,
            on_error=self._fail,
            on_progress=self._progressed,
        ).start()
        if wait:
            self._run.join()

    def _progressed(self, job: Job) -> None:
        self.progress.max = max(1, job.total)
        self.progress.value = job.done
        rate = job.rows_per_second
        left = (job.total - job.done) / rate if rate > 0 else None
        cached = f" ({job.cached:,} from the cache)" if job.cached else ""
        eta = f" · about {format_seconds(left)} left" if left else ""
        self.progress_text.value = html.escape(
            f"{job.primitive}: {job.done:,}/{job.total:,} rows{cached} · {rate:.1f} rows/s{eta}"
        )

    def _fail(self, err: BaseException) -> None:
        self.error = err
        if isinstance(err, RunInterruptedError):
            done = (
                f"{err.done:,} of {err.total:,} rows were done and are cached, so running "
                "again resumes. "
                if err.total
                else f"{err} "
            )
            self.status.value = html.escape(f"Cancelled: {done}Nothing was written.")
        else:
            self.status.value = error_html(err)
        self._idle()

    def _idle(self) -> None:
        for button in self._busy:
            button.disabled = False
        self.cancel_button.disabled = True
        self.progress.layout.visibility = "hidden"
