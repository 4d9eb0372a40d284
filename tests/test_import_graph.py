"""Issue 34: the modules of orchestrator/, jobs/ and shared_schema/ import one another without a
cycle, lazy imports inside functions included (a circle hidden in a function, like the one between
the catalog and the hyper-parameter checks, still makes two modules one); and the tests keep the
layout tests/README.md describes: no test module imports another (shared code lives in
tests/support/), and every test folder mirrors a source folder. Read from the source with `ast`, so
the test imports none of them."""

import ast
from pathlib import Path

from tests.support.helpers import REPO

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


# Test folders that mirror no source folder, by design (tests/README.md says what goes in each).
NON_MIRROR_FOLDERS = {"tests/flows", "tests/support", "tests/fixtures", "tests/ci", "tests/benchmarks"}


def host_test_files(root: Path = REPO) -> list[Path]:
    """Every Python file of the host tests (the image suites under tests/images/ have their own rules)."""
    return [p for p in sorted((root / "tests").rglob("*.py")) if p.relative_to(root / "tests").parts[0] != "images"]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def imported_test_modules(path: Path) -> set[str]:
    """The test modules (`tests.….test_*`) a file imports."""
    return {
        name
        for name in imported_modules(path)
        if name.startswith("tests.") and name.rpartition(".")[2].startswith("test_")
    }


def test_no_test_module_imports_another_and_support_code_lives_in_tests_support():
    files = host_test_files()
    assert len(files) > 50 and REPO / "tests" / "support" / "helpers.py" in files  # the tree is really read
    assert {str(p.relative_to(REPO)): imported_test_modules(p) for p in files if imported_test_modules(p)} == {}
    loose = [
        str(p.relative_to(REPO))
        for p in files
        if not p.name.startswith("test_")
        and p.name not in ("__init__.py", "conftest.py")
        and p.parent != REPO / "tests" / "support"
    ]
    assert loose == []  # a helper module outside tests/support/


def test_every_test_folder_mirrors_a_source_folder_or_is_a_named_exception():
    folders = {p.parent for p in host_test_files()} - {REPO / "tests"}
    unmirrored = [
        str(f.relative_to(REPO))
        for f in sorted(folders)
        if str(f.relative_to(REPO)) not in NON_MIRROR_FOLDERS and not (REPO / f.relative_to(REPO / "tests")).is_dir()
    ]
    assert unmirrored == []
    assert all((f / "__init__.py").is_file() for f in folders)  # packages: equal basenames never clash


def test_an_import_of_a_test_module_is_found(tmp_path):
    (tmp_path / "test_a.py").write_text("from tests.orchestrator.test_b import helper\nimport tests.support.helpers\n")
    (tmp_path / "test_c.py").write_text("from tests.orchestrator import test_b\n")
    assert imported_test_modules(tmp_path / "test_a.py") == {"tests.orchestrator.test_b"}
    assert imported_test_modules(tmp_path / "test_c.py") == {"tests.orchestrator.test_b"}
