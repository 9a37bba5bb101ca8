"""The public API is exactly ``__all__``, and every name in it exists."""

from __future__ import annotations

import inspect

import llm_magics


def test_all_names_exist() -> None:
    for name in llm_magics.__all__:
        assert hasattr(llm_magics, name), name


def test_all_is_complete() -> None:
    public = {
        name
        for name, value in vars(llm_magics).items()
        if not name.startswith("_")
        and not inspect.ismodule(value)
        and name not in {"annotations", "Any"}
        and name not in {"PackageNotFoundError", "version"}
    }
    assert public <= set(llm_magics.__all__)
