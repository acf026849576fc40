"""One direction through the code (issue 18): the import graph of the product, read with grimp.

grimp reads every import, those inside functions included (and those under ``TYPE_CHECKING``),
so a deferred import cannot hide a cycle or a layer broken upward.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "webhooks", "sheets", "scenarios")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, cache_dir=None)


def strongly_connected(nodes: set[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components of more than one node: each is a cycle (or several)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return found


def _imports(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def test_no_import_cycle_between_modules(graph):
    cycles = strongly_connected(set(graph.modules), _imports(graph))
    assert cycles == [], f"modules that import each other (function-level imports count): {cycles}"


def test_no_import_cycle_between_sibling_packages(graph):
    """``hub.sending`` -> ``hub.stages`` -> ``hub.sending`` is a cycle even when no single
    module takes part in one: siblings (children of one package) are compared as wholes."""
    imports = _imports(graph)
    cycles = []
    for parent in sorted(m for m in graph.modules if graph.find_children(m)):
        children = graph.find_children(parent)

        def sibling(module: str, children=children, parent=parent) -> str | None:
            if not module.startswith(parent + "."):
                return None
            head = parent + "." + module[len(parent) + 1 :].split(".", 1)[0]
            return head if head in children else None

        edges: dict[str, set[str]] = {}
        for importer, imported in ((a, b) for a, bs in imports.items() for b in bs):
            source, target = sibling(importer), sibling(imported)
            if source and target and source != target:
                edges.setdefault(source, set()).add(target)
        cycles += strongly_connected(set(children), edges)
    assert cycles == [], f"packages that import each other: {cycles}"


def test_no_import_module_of_our_own_modules():
    """``importlib.import_module("hub....")`` is an import the graph cannot see."""
    calls = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                name = getattr(getattr(node, "func", None), "attr", None) or getattr(
                    getattr(node, "func", None), "id", None
                )
                if isinstance(node, ast.Call) and name in ("import_module", "__import__"):
                    calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls == []


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_layers_contract_holds():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _copy_of_the_product(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_layers_contract_fails_when_a_stage_imports_the_api(tmp_path):
    copy = _copy_of_the_product(tmp_path)
    stage = copy / "hub" / "stages" / "score.py"
    # Inside a function: a deferred import breaks the layers all the same.
    stage.write_text(stage.read_text() + "\n\ndef _reach_up():\n    import hub.api.jobs\n")
    run = _lint_imports(copy)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "hub: one direction through the code, highest layer first BROKEN" in run.stdout
    assert "hub.stages.score -> hub.api.jobs" in run.stdout


def test_the_outside_contract_fails_when_the_store_imports_hub(tmp_path):
    copy = _copy_of_the_product(tmp_path)
    store = copy / "sheets" / "local.py"
    store.write_text(store.read_text() + "\nimport hub.config\n")
    run = _lint_imports(copy)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "webhooks, sheets and scenarios never import hub BROKEN" in run.stdout


def test_the_readme_layout_is_drawn_from_the_layers_contract():
    """README "Layout" lists each layer's packages as the contract does, in the same order."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["id"] == "hub-layers"]
    contract = [sorted(part.strip() for part in layer.split(":")) for layer in layers]
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line.split("|") for line in section.splitlines() if line.startswith("| ")]
    drawn = [sorted(re.findall(r"`([\w.]+)`", cells[2])) for cells in rows[1:]]
    assert drawn == contract
