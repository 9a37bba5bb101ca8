"""Readable views of the kernel's state: ``%mine status``, ``%mine models``, ``%mine cache``.

Each report is a snapshot (plain data taken when it was made) that renders as HTML in a notebook
and as text in a terminal; ``.data`` is the JSON-serializable snapshot itself.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from llm_magics.errors import LlmMagicsError
from llm_magics.runtime.manager import ModelManager, get_manager
from llm_magics.runtime.specs import BUILTIN_ALIASES, resolve_spec
from llm_magics.units import format_bytes, format_seconds

__all__ = [
    "CacheReport",
    "ModelsReport",
    "StatusReport",
    "cache_report",
    "models_report",
    "status_report",
]


def _html_table(frame: pd.DataFrame, empty: str) -> str:
    if frame.empty:
        return f"<p><i>{html.escape(empty)}</i></p>"
    return frame.to_html(index=False, escape=True, border=0)


def _text_table(frame: pd.DataFrame, empty: str) -> str:
    return f"  {empty}" if frame.empty else frame.to_string(index=False)


def _ago(timestamp: float | None) -> str:
    return "" if not timestamp else f"{format_seconds(time.time() - timestamp)} ago"


@dataclass(frozen=True)
class StatusReport:
    """Models, memory per device, engine jobs and the result cache, at one moment."""

    data: dict[str, Any]

    def models(self) -> pd.DataFrame:
        """One row per model: name, role, state, device, dtype, size and when last used."""
        return pd.DataFrame(
            [
                {
                    "model": m["name"],
                    "role": m["role"],
                    "state": m["state"],
                    "device": m["device"],
                    "dtype": m["dtype"],
                    "size": format_bytes(m["bytes"]),
                    "last used": _ago(m.get("last_used")),
                }
                for m in self.data["models"]
            ]
        )

    def memory(self) -> pd.DataFrame:
        """One row per device: bytes held by models, their budget, and the device's used and total."""
        return pd.DataFrame(
            [
                {
                    "device": d["device"],
                    "models": format_bytes(d["models_bytes"]),
                    "budget": format_bytes(d["budget"]),
                    "used": format_bytes(d["used"]),
                    "total": format_bytes(d["total"]),
                }
                for d in self.data["memory"]
            ]
        )

    def jobs(self) -> pd.DataFrame:
        """One row per engine job, most recent first: state, rows done of total, cached, rows/s."""
        return pd.DataFrame(
            [
                {
                    "job": j["id"],
                    "state": j["state"],
                    "step": f"{j['primitive']} · {j['model']}",
                    "rows": f"{j['done']}/{j['total']}",
                    "from cache": j["cached"],
                    "rows/s": j["rows_per_second"],
                    "started": _ago(j["started"]),
                }
                for j in reversed(self.data["jobs"])
            ]
        )

    def _cache_line(self) -> str:
        cache = self.data["cache"]
        return f"{cache['entries']:,} results, {format_bytes(cache['bytes'])} at {cache['path']}"

    def __repr__(self) -> str:
        return "\n".join(
            [
                "Models:",
                _text_table(self.models(), "none loaded"),
                "Memory:",
                _text_table(self.memory(), ""),
                "Jobs (most recent first):",
                _text_table(self.jobs(), "none yet"),
                f"Cache: {self._cache_line()}",
            ]
        )

    def _repr_html_(self) -> str:
        return (
            "<h4>llm_magics status</h4>"
            f"<b>Models</b>{_html_table(self.models(), 'none loaded')}"
            f"<b>Memory</b>{_html_table(self.memory(), '')}"
            f"<b>Jobs</b> (most recent first){_html_table(self.jobs(), 'none yet')}"
            f"<b>Cache</b><p>{html.escape(self._cache_line())}</p>"
        )


@dataclass(frozen=True)
class ModelsReport:
    """The model names one can use (built-in and configured aliases) and the models loaded."""

    aliases: pd.DataFrame  # alias, kind, location, default for, loaded
    loaded: pd.DataFrame

    def __repr__(self) -> str:
        return (
            f"Aliases:\n{_text_table(self.aliases, 'none')}\n"
            f"Loaded:\n{_text_table(self.loaded, 'none loaded')}\n"
            "Any Hugging Face id (org/model), local folder or .gguf file works too."
        )

    def _repr_html_(self) -> str:
        return (
            f"<b>Aliases</b>{_html_table(self.aliases, 'none')}"
            f"<b>Loaded</b>{_html_table(self.loaded, 'none loaded')}"
            "<p>Any Hugging Face id (<code>org/model</code>), local folder or <code>.gguf</code> "
            "file works too.</p>"
        )


@dataclass(frozen=True)
class CacheReport:
    """What the result cache holds, per primitive and model; or what a clear removed."""

    data: dict[str, Any]
    cleared: int | None = None

    def table(self) -> pd.DataFrame:
        """One row per primitive and model fingerprint: how many results, and their size."""
        return pd.DataFrame(
            [
                {
                    "primitive": g["primitive"],
                    "model fingerprint": g["model"][:12],
                    "results": g["entries"],
                    "size": format_bytes(g["value_bytes"] or 0),
                }
                for g in self.data["by_primitive"]
            ]
        )

    def _line(self) -> str:
        done = f"Removed {self.cleared:,} results. " if self.cleared is not None else ""
        return (
            f"{done}The cache holds {self.data['entries']:,} results "
            f"({format_bytes(self.data['bytes'])}) at {self.data['path']}"
        )

    def __repr__(self) -> str:
        return f"{self._line()}\n{_text_table(self.table(), 'empty')}"

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self._line())}</p>{_html_table(self.table(), 'empty')}"


def status_report(manager: ModelManager | None = None) -> StatusReport:
    """The manager's snapshot plus the result cache's size."""
    from llm_magics.engine.cache import get_result_cache

    manager = manager or get_manager()
    data = manager.status()
    data["cache"] = {
        k: v
        for k, v in get_result_cache(manager.config.cache_path).size().items()
        if k != "by_primitive"
    }
    return StatusReport(data)


def models_report(manager: ModelManager | None = None) -> ModelsReport:
    """Every alias with what it resolves to, and every loaded model."""
    manager = manager or get_manager()
    config = manager.config
    loaded = manager.loaded()
    defaults = {manager.model_for("chat"): "chat", manager.model_for("embed"): "embed"}
    rows = []
    for alias in [*BUILTIN_ALIASES, *config.aliases]:
        try:
            spec = resolve_spec(alias, config)
            kind, location = spec.kind, spec.location
            held = [
                f"{m.device} {str(m.dtype).removeprefix('torch.')}"
                for m in loaded
                if m.spec.key == spec.key
            ]
        except LlmMagicsError as err:
            kind, location, held = "unavailable", str(err), []
        rows.append(
            {
                "alias": alias,
                "kind": kind,
                "location": location,
                "default for": defaults.get(alias, ""),
                "loaded": ", ".join(held),
            }
        )
    return ModelsReport(
        aliases=pd.DataFrame(rows),
        loaded=StatusReport({"models": [m.snapshot() for m in loaded]}).models(),
    )


def cache_report(manager: ModelManager | None = None, *, clear: bool = False) -> CacheReport:
    """The result cache's contents; with ``clear=True``, after removing every entry."""
    from llm_magics.engine.cache import get_result_cache

    cache = get_result_cache((manager or get_manager()).config.cache_path)
    cleared = cache.clear() if clear else None
    return CacheReport(cache.size(), cleared)
