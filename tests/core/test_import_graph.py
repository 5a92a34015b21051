"""The layout shows the architecture: no import circle in core/, and the pipeline's and the noise engine's
rooms stay small enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
MAX_LINES = 420  # "no module over ~400 lines" (issue 26)


def _modules() -> dict[str, Path]:
    out = {}
    for path in CORE.rglob("*.py"):
        name = ".".join(path.relative_to(CORE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the core modules it imports (anywhere in it, functions included). ``from pkg import sub``
    is an edge to ``pkg.sub`` alone: importing a submodule runs its package's ``__init__`` anyway."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods]
                targets = subs if len(subs) == len(node.names) else [node.module, *subs]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in mods and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_in_core():
    assert cycles(import_graph()) == []


def test_the_checker_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_pipeline_and_noise_modules_are_small():
    rooms = [*(CORE / "pipeline").rglob("*.py"), *(CORE / "noise").glob("*.py")]
    big = {
        str(p.relative_to(CORE)): n
        for p in rooms
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not big, big


def test_backends_share_only_modules_neither_owns():
    # The Ray backend takes nothing from the local one (and the reverse): what both use lives elsewhere.
    graph = import_graph()
    ray = graph["core.pipeline.backends.ray"] | graph["core.pipeline.backends.ray_session"]
    assert "core.pipeline.backends.local" not in ray
    assert (
        not {"core.pipeline.backends.ray", "core.pipeline.backends.ray_session"}
        & graph["core.pipeline.backends.local"]
    )
