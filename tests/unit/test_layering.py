"""The one layering test: the core never loads Textual, no import cycles, no import reaching up.

The import graph is read with `ast` from every module under `tui/` (imports inside functions and
under `TYPE_CHECKING` included: a lazy import is still a dependency). Layers, lowest first, are
listed in `LAYERS`; a module may import its own layer and those below. Every module must have a
layer, so a new module is placed on purpose.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "tui"

LAYERS: list[tuple[str, ...]] = [
    # 0: leaves every layer may use
    ("tui.errors", "tui.paths", "tui.session_ids", "tui.faultproxy"),
    # 1: flows as data
    ("tui.flow",),
    # 2: the records a flow's run produces (events and steps carry flow values)
    ("tui.events", "tui.steps"),
    # 3: the rules a flow runs
    ("tui.rules",),
    # 4: the engine and the store
    ("tui.engine", "tui.engine_blocks", "tui.store", "tui.store_index"),
    # 5: sessions, transcripts, the sync client and the server
    ("tui.session", "tui.transcript", "tui.sync", "tui.server"),
    # 6: what commands do with sessions
    ("tui.pull", "tui.resolve", "tui.drop", "tui.headless", "tui.chattest"),
    # 7: the UI's bottom: widgets, messages, palette commands, the session catalog
    ("tui.app.widgets", "tui.app.messages", "tui.app.commands", "tui.app.catalog"),
    # 8: screens
    ("tui.app.screens",),
    # 9: the App
    ("tui.app.app",),
    # 10: what builds the App
    ("tui.app.launch", "tui.app.testing"),
    # 11: the command line
    ("tui.cli", "tui.__main__"),
]

UI = "tui.app"
"""Only this package imports textual."""


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _owner(name: str) -> str | None:
    """The module of ours that `name` (a module or a name in one) resolves to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, tree: ast.AST) -> Iterator[str]:
    """Every module `module` imports, anywhere in it: `from a import b` is `a.b` when that is a
    module of ours, else `a`; relative imports are made absolute."""
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module if is_package else module.rpartition(".")[0]
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield full if full in MODULES else base


def import_graph() -> dict[str, set[str]]:
    """Our modules and the modules of ours each one imports."""
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        ours = {_owner(name) for name in _imported(module, tree) if name == "tui" or name.startswith("tui.")}
        graph[module] = {target for target in ours if target is not None and target != module}
    return graph


def textual_importers() -> list[str]:
    """Modules outside `tui.app` that import textual anywhere (lazily included)."""
    found = []
    for module, path in MODULES.items():
        if module == UI or module.startswith(UI + "."):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(name == "textual" or name.startswith("textual.") for name in _imported(module, tree)):
            found.append(module)
    return found


def layer_of(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return best[1] if best else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_layering() -> None:
    graph = import_graph()
    problems: list[str] = []

    # 1. The core never imports textual: not in any module outside tui/app (lazily or not) ...
    problems += [f"{module} imports textual (only {UI} may)" for module in textual_importers()]
    # ... and loading the whole core (headless play, the server, sync, the CLI) loads no widget.
    core = sorted(m for m in MODULES if not (m == UI or m.startswith(UI + ".")) and m != "tui.__main__")
    code = "import sys\n" + "".join(f"import {m}\n" for m in core) + "print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() != "False":
        problems.append("importing the core loads textual")

    # 2. No import cycles.
    problems += [f"import cycle: {' <-> '.join(component)}" for component in cycles(graph)]

    # 3. No module imports a layer above its own.
    for module, targets in sorted(graph.items()):
        own = layer_of(module)
        if own is None:
            if MODULES[module].name != "__init__.py" or targets:
                problems.append(f"{module} has no layer in LAYERS")
            continue
        for target in sorted(targets):
            theirs = layer_of(target)
            if theirs is not None and theirs > own:
                problems.append(f"{module} (layer {own}) imports {target} (layer {theirs}), a layer above it")

    assert not problems, "\n".join(problems)


def test_store_is_the_only_module_that_imports_sqlitedict() -> None:
    users = sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if "sqlitedict" in p.read_text())
    assert users == ["store.py"]
