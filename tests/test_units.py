from __future__ import annotations

import pytest

from llm_magics.errors import InvalidArgumentError
from llm_magics.units import format_bytes, parse_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8GiB", 8 * 2**30), ("512 MB", 512 * 10**6), ("1.5gib", 3 * 2**29), (1024, 1024), ("77", 77)],
)
def test_parse_bytes(text: str | int, expected: int) -> None:
    assert parse_bytes(text) == expected


@pytest.mark.parametrize("text", ["eight GiB", "8 parsecs", "", -1, True])
def test_parse_bytes_rejects_with_an_example(text: object) -> None:
    with pytest.raises(InvalidArgumentError):
        parse_bytes(text)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (3 * 2**30 // 2, "1.5 GiB"),
        (5 * 2**40, "5.0 TiB"),
    ],
)
def test_format_bytes(n: int, expected: str) -> None:
    assert format_bytes(n) == expected
