"""A job is one engine call: what it runs, how far it is, and a way to stop it from another thread."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Job", "JobState"]

JobState = Literal["running", "done", "cancelled", "interrupted", "failed"]


@dataclass
class Job:
    """Progress of one engine call, in input rows (a row served from the cache counts as done)."""

    primitive: str
    model: str
    total: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    done: int = 0
    cached: int = 0
    state: JobState = "running"
    started: float = field(default_factory=time.time)
    finished: float | None = None
    error: str | None = None
    interrupted: bool = False  # stopped by Ctrl-C rather than cancel()
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _computed: int = field(default=0, repr=False)

    def cancel(self) -> None:
        """Ask the job to stop at its next batch boundary (safe from any thread)."""
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def advance(self, rows: int) -> None:
        self.done += rows
        self._computed += rows

    def finish(self, state: JobState, error: str | None = None) -> None:
        self.state = state
        self.error = error
        self.finished = time.time()

    @property
    def rows_per_second(self) -> float:
        """Rows computed (not served from the cache) per second of this job so far."""
        elapsed = (self.finished or time.time()) - self.started
        return self._computed / elapsed if elapsed > 0 else 0.0

    def snapshot(self) -> dict[str, Any]:
        """JSON-serializable state for ``status()["jobs"]``."""
        return {
            "id": self.id,
            "primitive": self.primitive,
            "model": self.model,
            "done": self.done,
            "total": self.total,
            "cached": self.cached,
            "rows_per_second": round(self.rows_per_second, 3),
            "started": self.started,
            "finished": self.finished,
            "state": self.state,
            "error": self.error,
        }
