"""The house's imports run one way: no module imports a higher layer, and no two modules import
each other, directly or round a circle.

Every import statement of every module of ``llm_magics`` counts: at module level, inside functions,
under ``if TYPE_CHECKING:``, in ``try`` blocks, relative or absolute, and
``import_optional("name")`` / ``importlib.import_module("name")`` calls with a literal name. A
late import inside a function still makes the lower layer know about the higher one, and a
``TYPE_CHECKING`` import still makes a circle that a reader has to hold in their head.

``import a.b`` is an edge to the module ``a.b`` (a package's ``__init__`` is its own module);
``from a.b import c`` is an edge to ``a.b.c`` where that is a module, else to ``a.b``, which
defines ``c``. Parent packages are not edges: Python runs them before any of their submodules
whatever the importer writes, so counting them would make every module depend on every package
above it.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

import llm_magics

# The layers, low to high, by the first name under ``llm_magics`` ("__init__": the package root).
# A module may import its own layer and the layers below it.
RANKS: dict[str, int] = {
    # bottom: settings, errors and helpers that know nothing above them
    "errors": 0,
    "units": 0,
    "progress": 0,  # tqdm bars that leave a plain line in a saved notebook
    "_optional": 0,
    "config": 0,
    "datasets": 0,
    "tables": 0,
    "cells": 0,  # what a cell's text is: blank, bytes, other values
    # Result objects' `.plot()`/`.tune()` conveniences: anyone may import it (see ALLOWED_LATE).
    "conveniences": 0,
    "runtime": 1,
    "engine": 2,
    # few-label learning: examples, methods, the honest estimate, calibration, the label store
    "learning": 3,
    "ops": 4,
    "mining": 5,
    "plots": 6,
    # where work runs (Ray): the op runner dispatches to it, ops never import it
    "backends": 7,
    "plan": 8,
    # entry points
    "magics": 9,
    "cli": 9,
    "widgets": 9,
    "comm": 9,
    "accessor": 9,
    "status": 9,
    "run_options": 9,
    "demo": 9,
    "distributed": 9,  # a compatibility shim over backends
    "__init__": 9,
    "__main__": 9,
}

# The one documented place where lower layers reach upper ones: the late imports inside the
# functions of these modules are not checked (as pandas' `df.plot` imports its backend when
# called). Their module-level and TYPE_CHECKING imports are.
ALLOWED_LATE = ("llm_magics.conveniences",)

# Where work runs is not an op's concern: nothing under these packages may import these modules
# (or their submodules), not even for typing.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "llm_magics.ops": ("llm_magics.backends", "llm_magics.distributed", "ray"),
}


@dataclass(frozen=True)
class Import:
    """One import of ``target`` by ``importer`` (``path:line``)."""

    importer: str
    path: Path
    line: int
    target: str
    late: bool  # inside a function
    typing_only: bool  # under `if TYPE_CHECKING:`

    def where(self, root: Path) -> str:
        return f"{self.path.relative_to(root)}:{self.line}"


def package_modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of ``package`` (a folder under ``root``) by dotted name."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


_DYNAMIC = {"import_optional", "import_module"}


class _Imports(ast.NodeVisitor):
    """The absolute names one module imports, with where and how."""

    def __init__(self, name: str, path: Path, is_package: bool, modules: Iterable[str]) -> None:
        self.name, self.path, self.modules = name, path, set(modules)
        self.package = name if is_package else name.rpartition(".")[0]
        self.depth = 0
        self.typing = 0
        self.found: list[Import] = []

    def _add(self, node: ast.AST, target: str) -> None:
        self.found.append(
            Import(self.name, self.path, node.lineno, target, self.depth > 0, self.typing > 0)
        )

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self.typing += 1
            for child in node.body:
                self.visit(child)
            self.typing -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            anchor = ".".join(parts[: len(parts) - (node.level - 1)])
            base = f"{anchor}.{base}" if base else anchor
        submodules = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in self.modules]
        if len(submodules) < len(node.names):
            self._add(node, base)
        for target in submodules:
            self._add(node, target)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if (
            called in _DYNAMIC
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            self._add(node, node.args[0].value)
        self.generic_visit(node)


def collect_imports(root: Path, package: str) -> tuple[dict[str, Path], list[Import]]:
    """The modules of ``package`` and every import they make."""
    modules = package_modules(root, package)
    found = []
    for name, path in modules.items():
        visitor = _Imports(name, path, path.name == "__init__.py", modules)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        found += visitor.found
    return modules, found


def layer(module: str, package: str) -> str:
    """The layer name of ``module``: its first name under ``package``."""
    rest = module.removeprefix(package).lstrip(".")
    return rest.split(".")[0] if rest else "__init__"


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Pop Tarjan's stack down to ``root``: the members of ``root``'s component."""
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def _cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = _pop_component(stack, on_stack, node)
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _circle(component: list[str], graph: Mapping[str, set[str]]) -> list[str]:
    """One circle through the first module of ``component``: [a, b, ..., a] (breadth first)."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(graph[node] & members):
            if nxt == start:
                return [*paths[node], start]
            if nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(component)  # a strongly connected component always has one


def violations(
    root: Path,
    package: str,
    ranks: Mapping[str, int],
    *,
    allowed_late: Iterable[str] = (),
    forbidden: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, str]:
    """Every breach of the layering of ``package`` (a folder under ``root``).

    Returns
    -------
    dict
        A stable key per breach (``"up: a -> b"``, ``"forbidden: a -> b"``, ``"cycle: a, b"``,
        ``"unranked: a"``) mapped to a message naming ``file:line → target`` for each import.
    """
    modules, imports = collect_imports(root, package)
    allowed_late = set(allowed_late)
    found: dict[str, list[str]] = {}
    for name in modules:
        if layer(name, package) not in ranks:
            found[f"unranked: {name}"] = [f"{layer(name, package)!r} has no rank in RANKS"]

    graph: dict[str, set[str]] = {name: set() for name in modules}
    edges: dict[tuple[str, str], Import] = {}
    for imp in imports:
        if imp.late and imp.importer in allowed_late:
            continue
        how = " (in a function)" if imp.late else " (TYPE_CHECKING)" if imp.typing_only else ""
        line = f"{imp.where(root)} → {imp.target}{how}"
        banned = any(
            _within(imp.importer, prefix) and any(_within(imp.target, b) for b in targets)
            for prefix, targets in (forbidden or {}).items()
        )
        if banned:
            found.setdefault(f"forbidden: {imp.importer} -> {imp.target}", []).append(line)
        if imp.target not in modules or imp.target == imp.importer:
            continue
        graph[imp.importer].add(imp.target)
        edges.setdefault((imp.importer, imp.target), imp)
        low, high = layer(imp.importer, package), layer(imp.target, package)
        # A forbidden import is reported once, as forbidden, even where it also runs upward.
        if not banned and low in ranks and high in ranks and ranks[high] > ranks[low]:
            found.setdefault(f"up: {imp.importer} -> {imp.target}", []).append(
                f"{line}: layer {low!r} ({ranks[low]}) imports {high!r} ({ranks[high]})"
            )

    for component in _cycles(graph):
        members = set(component)
        inside = [
            f"{imp.where(root)} {a} → {b}"
            for (a, b), imp in sorted(edges.items(), key=lambda edge: (edge[0][0], edge[1].line))
            if a in members and b in members
        ]
        circle = " → ".join(_circle(component, graph))
        found[f"cycle: {', '.join(component)}"] = [f"e.g. {circle}; its imports:", *inside]
    return {key: "\n    ".join([key, *lines]) for key, lines in sorted(found.items())}


def _root() -> Path:
    return Path(llm_magics.__file__).resolve().parent.parent


def test_imports_run_down_the_layers_and_never_in_circles() -> None:
    found = violations(_root(), "llm_magics", RANKS, allowed_late=ALLOWED_LATE, forbidden=FORBIDDEN)
    assert not found, "Imports against the layers (see tests/test_layers.py):\n" + "\n".join(
        found.values()
    )


@pytest.mark.parametrize(
    "package",
    [
        "runtime",
        "engine",
        "ops",
        "mining",
        "plots",
        "backends",
        "plan",
        "widgets",
        "comm",
        "magics",
    ],
)
def test_each_layer_says_what_it_may_import(package: str) -> None:
    doc = (_root() / "llm_magics" / package / "__init__.py").read_text(encoding="utf-8")
    assert "may import" in (ast.get_docstring(ast.parse(doc)) or "")


TOY_RANKS = {"base": 0, "low": 1, "high": 2, "late": 0, "__init__": 2}


def _toy(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, text in {"__init__.py": "", "base.py": "", "high.py": "", **files}.items():
        path = tmp_path / "toy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def _check(tmp_path: Path, files: Mapping[str, str]) -> dict[str, str]:
    return violations(
        _toy(tmp_path, files),
        "toy",
        TOY_RANKS,
        allowed_late=["toy.late"],
        forbidden={"toy.low": ["toy.late", "ray"]},
    )


def test_the_checker_allows_imports_down_and_sideways(tmp_path: Path) -> None:
    files = {
        "low/__init__.py": "from toy.low import a\n",
        "low/a.py": "import toy.base\nfrom .. import base\nfrom . import b\nfrom .b import z\n",
        "low/b.py": "from toy.base import x\nimport numpy\n",
        "high.py": "from toy.low.a import y\nfrom toy import low\n",
    }
    assert _check(tmp_path, files) == {}


@pytest.mark.parametrize(
    ("files", "key", "where"),
    [
        ({"low.py": "import toy.high\n"}, "up: toy.low -> toy.high", "toy/low.py:1 → toy.high"),
        (
            {"low.py": "def f():\n    from toy import high\n"},
            "up: toy.low -> toy.high",
            "toy/low.py:2 → toy.high (in a function)",
        ),
        (
            {
                "low.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .high import H\n"
            },
            "up: toy.low -> toy.high",
            "toy/low.py:3 → toy.high (TYPE_CHECKING)",
        ),
        (
            {"base.py": "import importlib\nimportlib.import_module('toy.low')\n", "low.py": ""},
            "up: toy.base -> toy.low",
            "toy/base.py:2 → toy.low",
        ),
        (
            {"low.py": "try:\n    import ray\nexcept ImportError:\n    ray = None\n"},
            "forbidden: toy.low -> ray",
            "toy/low.py:2 → ray",
        ),
        (
            {"low.py": "from toy import late\n", "late.py": ""},
            "forbidden: toy.low -> toy.late",
            "toy/low.py:1 → toy.late",
        ),
        ({"extra.py": ""}, "unranked: toy.extra", "'extra' has no rank"),
    ],
    ids=[
        "module-level",
        "in-a-function",
        "type-checking",
        "import_module",
        "forbidden-package",
        "forbidden-module",
        "unranked",
    ],
)
def test_the_checker_catches(
    tmp_path: Path, files: Mapping[str, str], key: str, where: str
) -> None:
    found = _check(tmp_path, files)
    assert list(found) == [key]
    assert where in found[key]


def test_the_checker_finds_circles_within_a_layer_and_prints_them(tmp_path: Path) -> None:
    files = {
        "low/__init__.py": "",
        "low/a.py": "from toy.low.b import x\n",
        "low/b.py": "def f():\n    from toy.low import c\n",
        "low/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
    }
    found = _check(tmp_path, files)
    assert list(found) == ["cycle: toy.low.a, toy.low.b, toy.low.c"]
    message = found["cycle: toy.low.a, toy.low.b, toy.low.c"]
    assert "toy.low.a → toy.low.b → toy.low.c → toy.low.a" in message
    assert "toy/low/b.py:2 toy.low.b → toy.low.c" in message


def test_the_checker_skips_only_the_allowed_late_imports(tmp_path: Path) -> None:
    late = "def plot():\n    from toy.high import chart\n"
    assert _check(tmp_path, {"late.py": late}) == {}
    found = _check(tmp_path, {"late.py": "from toy import high\n"})
    assert list(found) == ["up: toy.late -> toy.high"]
