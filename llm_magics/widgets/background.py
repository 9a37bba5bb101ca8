"""Work a panel starts runs in a thread, so the kernel keeps answering the panel's buttons.

A button's handler runs on the kernel's main thread while it handles the click; if the handler ran
the op itself, the kernel could not see a "Cancel" click until the op had finished. So the panel
hands the op to a ``BackgroundRun``: one thread, a ``CancelScope`` around the work (Cancel stops
the engine job running now at its next batch and every later one), and the engine's progress of
that thread's jobs passed to a callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from llm_magics.engine.jobs import CancelScope, Job
from llm_magics.runtime.manager import ModelManager

__all__ = ["BackgroundRun"]


class BackgroundRun:
    """Run ``work()`` in a thread; ``cancel()`` stops it; ``on_progress(job)`` after each batch.

    ``on_done(value)`` or ``on_error(exception)`` runs in the thread when the work ends.
    """

    def __init__(
        self,
        work: Callable[[], Any],
        *,
        manager: ModelManager,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None],
        on_progress: Callable[[Job], None] | None = None,
        name: str = "llm_magics panel",
    ) -> None:
        self.scope = CancelScope()
        self._work = work
        self._manager = manager
        self._on_done = on_done
        self._on_error = on_error
        self._on_progress = on_progress
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> BackgroundRun:
        """Start the thread and return this run (so ``BackgroundRun(...).start()`` chains)."""
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        """Whether the work's thread is still alive."""
        return self._thread.is_alive()

    def cancel(self) -> None:
        """Stop at the running job's next batch boundary; the finished rows stay cached."""
        self.scope.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the work to end; ``False`` if it is still running after ``timeout`` seconds."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _listen(self, job: Job) -> None:
        if threading.current_thread() is self._thread and self._on_progress is not None:
            self._on_progress(job)

    def _run(self) -> None:
        remove = self._manager.add_job_listener(self._listen)
        try:
            with self.scope.active():
                value = self._work()
        except BaseException as err:  # shown in the panel: a thread has nobody else to tell
            self._on_error(err)
        else:
            self._on_done(value)
        finally:
            remove()
