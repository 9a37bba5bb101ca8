"""Reading a table from a file: ``llm-mine run``'s input and a plan's ``with PATH``.

Anything that stops a file being read (no such file, a folder, no permission, empty, another
encoding, a broken line) is one ``InvalidArgumentError`` line that names the file and says what to
do, so the CLI and a plan line report it alike.

This module imports nothing above ``llm_magics.errors``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from llm_magics.errors import InvalidArgumentError

__all__ = ["READERS", "check_readable", "not_text", "read_table"]


def _read_delimited(path: Path, encoding: str, sep: str) -> pd.DataFrame:
    """A CSV or TSV file. In a table of one column a blank line is a row whose cell is empty
    (a blank answer, a review left empty): it is kept, as NaN, so the rows stay the file's.
    With more columns a blank line has no fields and is not a row (pandas skips it)."""
    columns = pd.read_csv(path, sep=sep, encoding=encoding, nrows=0).columns
    return pd.read_csv(path, sep=sep, encoding=encoding, skip_blank_lines=len(columns) > 1)


READERS = {
    ".csv": lambda path, encoding: _read_delimited(path, encoding, ","),
    ".tsv": lambda path, encoding: _read_delimited(path, encoding, "\t"),
    ".parquet": lambda path, encoding: pd.read_parquet(path),
    ".jsonl": lambda path, encoding: pd.read_json(path, lines=True, encoding=encoding),
    ".json": lambda path, encoding: pd.read_json(path, encoding=encoding),
}
"""The reader of each file extension ``read_table`` knows."""


_DENIED = "permission denied; make it readable (chmod +r) or copy it somewhere you can read."


def check_readable(path: Path, what: str) -> None:
    """Raise an ``InvalidArgumentError`` saying why ``path`` cannot be read and what to do, if it cannot (``what`` names it: "file", "plan file")."""
    if not path.exists():
        msg = f"{path}: no such {what}."
        raise InvalidArgumentError(msg)
    if path.is_dir():
        msg = f"{path} is a folder; pass the {what} inside it."
        raise InvalidArgumentError(msg)
    try:
        with path.open("rb") as file:
            empty = not file.read(1)
    except PermissionError:
        msg = f"{path}: {_DENIED}"
        raise InvalidArgumentError(msg) from None
    except OSError as err:
        msg = f"{path}: cannot read it ({err.strerror or err})."
        raise InvalidArgumentError(msg) from None
    if empty:
        msg = f"{path} is empty; pass a {what} with something in it."
        raise InvalidArgumentError(msg)


def _likely_encoding(raw: bytes) -> str:
    """The encoding a file that is not UTF-8 most likely has."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        raw.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    return "cp1252"


def not_text(
    path: Path, err: UnicodeDecodeError, encoding: str, *, table: bool
) -> InvalidArgumentError:
    """The one line for a file that is not in ``encoding``: which encoding to pass instead."""
    with path.open("rb") as file:
        head = file.read(1 << 20)
    try:  # readers decode in chunks, so err's offset is within a chunk: find the line here
        head.decode(encoding)
        where = f"byte 0x{err.object[err.start]:02x}"
    except UnicodeDecodeError as found:
        line = head[: found.start].count(b"\n") + 1
        where = f"byte 0x{head[found.start]:02x} on line {line}"
    if not table:  # a plan file is ours: UTF-8 only
        return InvalidArgumentError(f"{path} is not UTF-8 ({where}); re-save it as UTF-8.")
    guess = _likely_encoding(head)
    if guess == encoding.lower():
        guess = "utf-8"
    return InvalidArgumentError(
        f"{path} is not {encoding} ({where}); it looks like {guess}: pass --encoding {guess}, or "
        're-save it as UTF-8 (in Excel: Save As > "CSV UTF-8").'
    )


def _broken_line(path: Path, encoding: str) -> tuple[int, str] | None:
    """The first line of a JSON Lines file that is not JSON: its number and the parser's words."""
    with path.open(encoding=encoding) as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    json.loads(line)
                except json.JSONDecodeError as err:
                    return number, err.msg
    return None


def read_table(path: Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The table at ``path``; anything that stops it being read is one ``InvalidArgumentError`` line.

    ``.csv``, ``.tsv``, ``.parquet`` (a file or a folder of them), ``.jsonl`` and ``.json``;
    ``encoding`` is the text files' encoding.
    """
    suffix = path.suffix.lower()
    reader = READERS.get(suffix)
    if reader is None and not path.is_dir():
        msg = f"{path}: cannot read {path.suffix or 'a file without extension'}; use {', '.join(READERS)}."
        raise InvalidArgumentError(msg)
    if not (suffix == ".parquet" and path.is_dir()):  # a folder of parquet files is one table
        check_readable(path, "file")
    try:
        frame = reader(path, encoding)
    except ImportError as err:  # parquet without pyarrow
        msg = f'{path}: {err} Or: pip install "llm-magics[data]".'
        raise InvalidArgumentError(msg) from None
    except UnicodeDecodeError as err:
        raise not_text(path, err, encoding, table=True) from None
    except LookupError:
        msg = f"--encoding {encoding}: no such encoding; try utf-8, cp1252 or latin-1."
        raise InvalidArgumentError(msg) from None
    except PermissionError:
        msg = f"{path}: {_DENIED}"
        raise InvalidArgumentError(msg) from None
    except pd.errors.EmptyDataError:
        msg = f"{path} has no columns; pass a table with a header row."
        raise InvalidArgumentError(msg) from None
    except (ValueError, pd.errors.ParserError) as err:  # pyarrow's ArrowInvalid is a ValueError
        broken = _broken_line(path, encoding) if suffix == ".jsonl" else None
        where = f", line {broken[0]}: not JSON ({broken[1]})" if broken else f": {_first_line(err)}"
        kind = suffix.lstrip(".").upper()
        msg = f"{path} cannot be read as {kind}{where}; fix the file or save it again as {kind}."
        raise InvalidArgumentError(msg) from None
    return frame  # a header without rows is a table: the ops give empty results of their shape


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0].rstrip(".") if str(err).strip() else type(err).__name__
