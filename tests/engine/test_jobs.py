"""Jobs: what the sidebar's job row shows, and where a step's engine calls report."""

from __future__ import annotations

from llm_magics.engine.jobs import Job, step
from llm_magics.runtime.manager import ModelManager


def test_a_snapshot_carries_the_note() -> None:
    job = Job("score", "default-chat", total=10)
    assert job.snapshot()["note"] is None
    job.note = "3 of 10 rows to quality-chat"
    assert job.snapshot()["note"] == "3 of 10 rows to quality-chat"


def test_a_note_set_in_an_inner_step_lands_on_the_listed_step(manager: ModelManager) -> None:
    with (
        step("classify review", manager, rows=4) as outer,
        step("cascade default-chat → quality-chat", manager, rows=4) as inner,
    ):
        inner.note = "1 of 4 rows to quality-chat"
    listed = {j["id"]: j for j in manager.status()["jobs"]}
    assert inner is outer
    assert listed[outer.id]["primitive"] == "classify review"
    assert listed[outer.id]["note"] == "1 of 4 rows to quality-chat"
