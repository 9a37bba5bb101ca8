"""``labextension/src/protocol.ts`` mirrors ``llm_magics/comm/protocol.py`` field for field."""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_type_hints

import pytest

from llm_magics.comm import protocol

TYPESCRIPT = (Path(__file__).resolve().parents[2] / "labextension/src/protocol.ts").read_text()
MIRRORED = [
    "Request",
    "ModelInfo",
    "MemoryInfo",
    "JobInfo",
    "CacheInfo",
    "Template",
    "StateMessage",
    "ReplyMessage",
]


def _interface(name: str) -> dict[str, bool]:
    """Fields of ``interface I<name>`` and whether each is optional (``field?:``)."""
    body = re.search(rf"export interface I{name} \{{(.*?)\n\}}", TYPESCRIPT, re.S)
    assert body, f"protocol.ts has no interface I{name}"
    return {m[1]: bool(m[2]) for m in re.finditer(r"^\s+(\w+)(\??):", body[1], re.M)}


@pytest.mark.parametrize("name", MIRRORED)
def test_every_message_has_the_same_fields_on_both_sides(name: str) -> None:
    typed = getattr(protocol, name)
    fields = _interface(name)
    assert set(fields) == set(get_type_hints(typed))
    optional_in_python = typed.__optional_keys__
    assert {f for f, optional in fields.items() if optional} <= optional_in_python


def test_constants_match() -> None:
    assert f"PROTOCOL_VERSION = {protocol.PROTOCOL_VERSION};" in TYPESCRIPT
    assert f"TARGET = '{protocol.TARGET}';" in TYPESCRIPT
    actions = ", ".join(f"'{a}'" for a in protocol.ACTIONS)
    assert f"ACTIONS = [{actions}] as const;" in TYPESCRIPT
