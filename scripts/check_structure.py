#!/usr/bin/env python3
"""Checks two house rules of the source tree and exits non-zero when one is broken.

1. No production source file over 700 lines (Rust under ``src/`` and ``crates/*/src/``,
   Python under ``python/``), inline test modules included: split a file by responsibility
   before it gets there.
2. No import circle between files: no two files that use each other, directly or around a
   loop. Rust: every ``crate::``/``super::``/``self::`` path and every ``use`` of a child
   module is resolved to the file that defines it; a parent's ``pub use child::...``
   re-export and its ``mod child;`` declaration are the module's public face, not a
   dependency, and code under ``#[cfg(test)]`` does not count. Python: relative imports
   inside the ``rocketmq`` package.

Usage: python3 scripts/check_structure.py [--verbose]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 700
ROOT = Path(__file__).resolve().parent.parent

RUST_ROOTS = [ROOT / "src", *sorted((ROOT / "crates").glob("*/src"))]
PYTHON_PACKAGE = ROOT / "python" / "rocketmq"


def rust_files(src: Path) -> dict[tuple[str, ...], Path]:
    """Maps module paths (relative to the crate root) to the file that holds each module."""
    modules: dict[tuple[str, ...], Path] = {}
    for path in sorted(src.rglob("*.rs")):
        rel = path.relative_to(src)
        if rel.parts[0] == "bin":
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] in ("lib", "main", "mod"):
            parts.pop()
        modules[tuple(parts)] = path
    return modules


def production_text(text: str) -> str:
    """The file without its `#[cfg(test)]` items (they come last by convention here)."""
    cut = re.search(r"^\s*#\[cfg\(test\)\]", text, re.M)
    return text[: cut.start()] if cut else text


TOKENS = re.compile(
    r"//[^\n]*|/\*.*?\*/|r(#*)\".*?\"\1|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])'", re.S
)


def strip_comments(text: str) -> str:
    """The code without comments, string literals and char literals (left as blanks)."""
    return TOKENS.sub(lambda m: '""' if m.group(0)[:1] in "r\"" else " ", text)


USE_ITEM = re.compile(r"\b(pub(?:\([^)]*\))?\s+)?use\s+([^;]+);")
PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def expand_use(tree: str) -> list[str]:
    """`a::{b, c::{d, e}}` -> ["a::b", "a::c::d", "a::c::e"]."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        return [tree.split("as")[0] if "::" in tree else tree]
    prefix, inner = tree[:brace], tree[brace + 1 : tree.rfind("}")]
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    out = []
    for part in parts:
        if part:
            out.extend(prefix + p for p in expand_use(part))
    return out


def resolve(
    module: tuple[str, ...], path: list[str], modules: dict[tuple[str, ...], Path]
) -> tuple[str, ...] | None:
    """The longest module prefix of `path` (segments after crate/super/self resolved)."""
    base: list[str]
    head, rest = path[0], path[1:]
    if head == "crate":
        base = []
    elif head == "super":
        base = list(module[:-1])
        while rest and rest[0] == "super":
            base = base[:-1]
            rest = rest[1:]
    elif head == "self":
        base = list(module)
    else:
        base, rest = list(module), path
    best = None
    for n in range(len(rest) + 1):
        candidate = tuple(base + rest[:n])
        if candidate in modules:
            best = candidate
    return best


def rust_edges(src: Path) -> dict[Path, set[Path]]:
    modules = rust_files(src)
    edges: dict[Path, set[Path]] = {}
    for module, path in modules.items():
        text = strip_comments(production_text(path.read_text()))
        targets: set[Path] = set()
        children = {m[-1] for m in modules if len(m) == len(module) + 1 and m[:-1] == module}
        for m in USE_ITEM.finditer(text):
            is_pub = m.group(1) is not None
            for item in expand_use(m.group(2)):
                segs = [s for s in item.split("::") if s]
                if not segs:
                    continue
                if segs[0] in ("crate", "super", "self") or segs[0] in children:
                    target = resolve(module, segs, modules)
                    facade = is_pub and target is not None and target[: len(module)] == module
                    if target is not None and not facade:
                        targets.add(modules[target])
        without_uses = USE_ITEM.sub("", text)
        for m in PATH.finditer(without_uses):
            segs = [m.group(1), *[s for s in m.group(2).split("::") if s]]
            target = resolve(module, segs, modules)
            if target is not None:
                targets.add(modules[target])
        targets.discard(path)
        edges[path] = targets
    return edges


def python_edges(package: Path) -> dict[Path, set[Path]]:
    edges: dict[Path, set[Path]] = {}
    files = {p.stem: p for p in package.glob("*.py")}
    for name, path in files.items():
        targets = set()
        for m in re.finditer(r"^\s*from\s+\.(\w*)\s+import\s+([^\n(]+|\([^)]*\))", path.read_text(), re.M):
            mod = m.group(1)
            if mod:
                if mod in files:
                    targets.add(files[mod])
            else:
                for item in re.split(r"[,()\s]+", m.group(2)):
                    if item in files:
                        targets.add(files[item])
        targets.discard(path)
        edges[path] = targets
    return edges


def circles(edges: dict[Path, set[Path]]) -> list[list[Path]]:
    """Strongly connected components of more than one file (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    found: list[list[Path]] = []
    counter = [0]

    def visit(v: Path) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    verbose = "--verbose" in sys.argv
    problems = []
    sources = [p for root in RUST_ROOTS for p in root.rglob("*.rs")]
    sources += list(PYTHON_PACKAGE.rglob("*.py"))
    for path in sorted(sources):
        if path.name == "tests.rs" or "tests" in path.relative_to(ROOT).parts[:-1]:
            continue
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            problems.append(f"{path.relative_to(ROOT)}: {lines} lines (at most {MAX_LINES}): split it by responsibility")
    graphs = [rust_edges(root) for root in RUST_ROOTS] + [python_edges(PYTHON_PACKAGE)]
    for graph in graphs:
        if verbose:
            for src, dsts in sorted(graph.items()):
                for dst in sorted(dsts):
                    print(f"{src.relative_to(ROOT)} -> {dst.relative_to(ROOT)}")
        for circle in circles(graph):
            names = ", ".join(str(p.relative_to(ROOT)) for p in circle)
            problems.append(f"import circle between {names}")
    for problem in problems:
        print(problem)
    files = len(sources)
    if problems:
        print(f"structure check: {len(problems)} problem(s) in {files} source files")
        return 1
    print(f"structure check: {files} source files, none over {MAX_LINES} lines, no import circle")
    return 0


if __name__ == "__main__":
    sys.exit(main())
