"""Byte quantities as people write them ("8GiB", "512 MB") and as we print them."""

from __future__ import annotations

import math
import re

from llm_magics.errors import InvalidArgumentError

__all__ = ["format_bytes", "format_per_row", "format_seconds", "parse_bytes"]

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_BINARY = ("KiB", "MiB", "GiB", "TiB")
_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_bytes(value: int | float | str) -> int:
    """Return a number of bytes from an int or a string such as ``"8GiB"`` or ``"512 MB"``.

    Examples
    --------
    >>> parse_bytes("1.5GiB")
    1610612736
    >>> parse_bytes(1024)
    1024
    """
    if isinstance(value, bool):
        msg = f"A memory size must be a number of bytes or a string like '8GiB', not {value!r}."
        raise InvalidArgumentError(msg)
    if isinstance(value, int | float):
        if value < 0:
            msg = f"A memory size cannot be negative: {value!r}."
            raise InvalidArgumentError(msg)
        return int(value)
    match = _QUANTITY.match(str(value))
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        msg = (
            f"Cannot read {value!r} as a memory size. Write a number of bytes or a number with one of "
            f"the units {', '.join(u.upper() for u in _UNITS if u)} (for example '8GiB')."
        )
        raise InvalidArgumentError(msg)
    return int(float(match.group(1)) * _UNITS[unit])


def format_bytes(n: int | float) -> str:
    """Return ``n`` bytes in binary units with one decimal.

    Examples
    --------
    >>> format_bytes(1610612736)
    '1.5 GiB'
    >>> format_bytes(512)
    '512 B'
    """
    if abs(n) < 1024:
        return f"{int(n)} B"
    exponent = min(int(math.log(abs(n), 1024)), len(_BINARY))
    return f"{n / 1024**exponent:.1f} {_BINARY[exponent - 1]}"


def format_seconds(seconds: float) -> str:
    """A duration for people: seconds up to 90, then minutes, then hours.

    Examples
    --------
    >>> format_seconds(42.4), format_seconds(600), format_seconds(7200)
    ('42 s', '10 min', '2.0 h')
    """
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def format_per_row(seconds: float) -> str:
    """Seconds a row for people: milliseconds under one second, then as ``format_seconds``.

    Examples
    --------
    >>> format_per_row(0.1234), format_per_row(3.932), format_per_row(150)
    ('123 ms a row', '3.9 s a row', '2 min a row')
    """
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms a row"
    if seconds < 10:
        return f"{seconds:.1f} s a row"
    return f"{format_seconds(seconds)} a row"
