"""Issue 34: the modules of orchestrator/, jobs/ and shared_schema/ import one another without a
cycle, lazy imports inside functions included (a circle hidden in a function, like the one between
the catalog and the hyper-parameter checks, still makes two modules one). Read from the source
with `ast`, so the test imports none of them."""

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("orchestrator", "jobs", "shared_schema")


def module_files(root: Path = REPO) -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the project modules it imports anywhere in its file (`from a import b` counts as
    importing a.b where that is a module, else a)."""

    def project_module(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {project_module(alias.name) for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.add(full if full in modules else project_module(base))
        graph[name] = targets - {None, name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_no_import_cycle_in_orchestrator_jobs_and_shared_schema():
    graph = import_graph(module_files())
    assert "jobs.catalog" in graph["jobs.registry"] and len(graph) > 100  # the graph is really read
    assert cycles(graph) == []


def test_a_lazy_import_that_closes_a_circle_is_found(tmp_path):
    """The catalog <-> hyper-parameters circle as it was: one side imported inside a function."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "jobs" / "catalog.py").write_text("from jobs.hyperparameters import Param\n")
    (tmp_path / "jobs" / "hyperparameters.py").write_text(
        "class Param: ...\n\ndef check(model):\n    from jobs.catalog import BY_NAME\n"
    )
    (tmp_path / "jobs" / "registry.py").write_text("from . import catalog\n")
    graph = import_graph(module_files(tmp_path))
    assert graph["jobs.registry"] == {"jobs.catalog"}  # a relative import resolves to the module
    assert cycles(graph) == [{"jobs.catalog", "jobs.hyperparameters"}]
