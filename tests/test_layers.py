"""The package's imports form layers with no loop: files and settings at the bottom, the models above them,
then training, sampling and scoring, then the Hub, the playground and the command line, app.py on top."""
from __future__ import annotations

import ast
from pathlib import Path

from tests.support import REPO

LAYERS = [
    ("rnnlm.config", "rnnlm.vocab", "rnnlm.data", "rnnlm.checkpoint", "rnnlm.memorize", "rnnlm.modelsets",
     "rnnlm.threads", "rnnlm.distributed"),
    ("rnnlm.models",),
    ("rnnlm.card", "rnnlm.store", "rnnlm.sample", "rnnlm.score", "rnnlm.train"),
    ("rnnlm.inspect",),
    ("rnnlm.hub", "rnnlm.playground", "rnnlm.cli", "rnnlm.__main__", "rnnlm"),
    ("app",),
]


def layer(module: str) -> int:
    for i, names in enumerate(LAYERS):
        if any(module == n or module.startswith(n + ".") for n in names):
            return i
    raise AssertionError(f"{module} is in no layer")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, name: str) -> set[str]:
    """Every rnnlm module path imports, at any depth of the file, importlib.import_module("...") calls included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            if node.module is None:  # from . import checkpoint: the modules themselves
                found.update(f"{base}.{a.name}" for a in node.names)
            else:
                found.add(base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("rnnlm.") \
                and ":" in node.value:
            found.add(node.value.partition(":")[0])  # a registry entry "module:Class", imported on demand
    return {f for f in found if f == "app" or f == "rnnlm" or f.startswith("rnnlm.")}


def graph() -> dict[str, set[str]]:
    files = [*sorted((REPO / "rnnlm").rglob("*.py")), REPO / "app.py"]
    return {module_name(p): imports(p, module_name(p)) for p in files}


def test_no_module_imports_from_a_layer_above_it():
    upward = [f"{m} -> {i}" for m, found in graph().items() for i in found if layer(i) > layer(m)]
    assert upward == []


def test_the_imports_have_no_loop():
    g = graph()
    known = set(g)

    def resolve(name: str) -> str:  # `from .models import x` names the package, which is its __init__
        return name if name in known else name.rpartition(".")[0]

    edges = {m: {resolve(i) for i in found if resolve(i) in known and resolve(i) != m} for m, found in g.items()}
    edges = {m: {i for i in targets if not (i == "rnnlm" and m.startswith("rnnlm."))} for m, targets in edges.items()}
    state: dict[str, int] = {}
    loops = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                loops.append(" -> ".join(path[path.index(n):] + [n]))
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m, [m])
    assert loops == []
