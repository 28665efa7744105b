"""The import layers of DESIGN.md section 4, read from the source files: imports point one way
(faces -> lab -> engine, analysis, report; engine -> techniques, models, data, store; analysis ->
store), and no two modules import each other, directly or around a circle. Lazy imports inside
functions count (they are still a dependency); imports under `if TYPE_CHECKING:` do not (they
never run). The graph is built from every module under src/reglab, so a new module is checked
without being listed."""

from __future__ import annotations

import ast
from pathlib import Path

import reglab

ROOT = Path(reglab.__file__).parent

# Layer of each package or module (the longest matching prefix wins); a module may import its own
# layer or lower ones. Faces sit on top; `reglab` itself (the package root: __version__ and the lazy
# public names) is importable by all.
LAYERS = {
    "reglab": 0, "reglab.errors": 0,
    "reglab.store": 1, "reglab.techniques": 1, "reglab.data": 1,
    # The registry and its table are torch-free and what a study is validated against; the networks
    # themselves read a validated VariantSpec.
    "reglab.models.registry": 2, "reglab.models.catalog": 2, "reglab.models.sklearn_references": 2,
    "reglab.cost.memory_model": 2,
    "reglab.progress.events": 2,
    "reglab.config": 3, "reglab.analysis": 3,
    "reglab.engine": 4, "reglab.models": 4,
    "reglab.cost": 5, "reglab.explain": 5, "reglab.report": 5,
    # The Python face's own pieces: its argument checks and reglab.Study sit beside the results.
    "reglab.live": 6, "reglab.lrfind": 6, "reglab.results": 6, "reglab.progress": 6, "reglab.export": 6,
    "reglab.config.api_checks": 6, "reglab.config.python_study": 6,
    "reglab.lab": 7,
    "reglab.api": 8, "reglab.cli": 8, "reglab.__main__": 8,
}


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(("reglab", *path.relative_to(ROOT).with_suffix("").parts)).removesuffix(".__init__")
        found[name] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node except what sits under `if TYPE_CHECKING:`."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def imports() -> dict[str, set[str]]:
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    edges = {}
    for name, path in known.items():
        targets = set()
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets |= {resolve(a.name) for a in node.names if a.name.startswith("reglab")}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("reglab"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in known else resolve(node.module))
        edges[name] = {t for t in targets if t and t != name}
    return edges


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def test_every_module_has_a_layer():
    assert all(layer(m) is not None for m in modules())


def test_no_import_runs_back_up():
    upward = sorted(f"{a} (layer {layer(a)}) imports {b} (layer {layer(b)})"
                    for a, targets in imports().items() for b in targets
                    if layer(b) > layer(a) and b != "reglab")
    assert not upward, "\n".join(upward)


def test_no_two_modules_import_each_other_around_a_circle():
    edges = imports()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    assert not circles, circles


def test_the_check_sees_a_circle_and_an_upward_import(tmp_path, monkeypatch):
    # Without this the two tests above could pass on a graph that failed to read any import.
    edges = imports()
    assert "reglab.engine.core" in edges["reglab.engine.reference"]
    assert "reglab.lab" in edges["reglab.cli"] and layer("reglab.cli") > layer("reglab.lab")
    assert "reglab.results" not in edges["reglab.export.model_files"]  # only under TYPE_CHECKING there
