"""The layers, as docs/architecture.md draws them, held by the imports (counting the imports inside functions too:
a lazy import hides a cycle from Python, not from the people reading the code).

- kissweb's apps import only downwards (LAYERS, top to bottom): no app-level cycle, and no module-level cycle.
- detector/ has no module cycle and never imports kissweb or Django.
- No migration imports live code (kissweb or detector): a migration must replay the same way after the code changes.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# kissweb's apps (a package under kissweb/, or a top-level module), top to bottom. An app may import its own modules
# and those of the apps in the layers below it; nothing of its own layer or above. This is the one place the
# allowed direction is written down; docs/architecture.md draws the same picture.
LAYERS: list[tuple[str, ...]] = [
    ("kissweb", "kissweb.urls", "kissweb.cli", "kissweb.asgi", "kissweb.wsgi"),  # the project's wiring
    ("kissweb.web", "kissweb.exports", "kissweb.training"),  # pages and the kinds of work a person asks for
    ("kissweb.analysis",),  # analysis, re-score, re-derivation, model files
    ("kissweb.library",),  # movies, segments, scene types, annotations, uploads, streaming
    ("kissweb.jobs",),  # one Run table, one Runner, one sweeper
    # the one policy, and the HTTP helpers every app's views share
    ("kissweb.permissions", "kissweb.schema", "kissweb.parsers", "kissweb.pagination", "kissweb.login_guard",
     "kissweb.middleware"),
    ("kissweb.errors",),  # the one vocabulary
    ("kissweb.settings", "kissweb.dbresolve"),  # configuration, read by everything
]
LAYER_OF = {app: depth for depth, apps in enumerate(LAYERS) for app in apps}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: str, *, migrations: bool = False) -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in (ROOT / package).rglob("*.py")
        if ("migrations" in path.parts) == migrations
    }


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module an imported name lives in (a module, or the package whose __init__ defines it)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_names(name: str, path: Path) -> set[str]:
    """Every dotted name the module imports, anywhere in it (top level, functions, branches), made absolute."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(package: str = "kissweb") -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports (migrations left out: they import no live code)."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target in imported_names(name, path):
            if target.split(".")[0] != package:
                continue
            resolved = _resolve(target, modules)
            if resolved and resolved != name:
                graph[name].add(resolved)
    return graph


def app_of(module: str) -> str:
    """kissweb.library.services -> kissweb.library; kissweb.errors -> kissweb.errors; kissweb -> kissweb."""
    return ".".join(module.split(".")[:2])


def app_graph(graph: dict[str, set[str]]) -> dict[str, dict[str, set[str]]]:
    """App -> app it imports -> the module imports that make that edge (for the failure message)."""
    apps: dict[str, dict[str, set[str]]] = {}
    for module, targets in graph.items():
        apps.setdefault(app_of(module), {})
        for target in targets:
            if app_of(target) != app_of(module):
                apps[app_of(module)].setdefault(app_of(target), set()).add(f"{module} -> {target}")
    return apps


def layer_violations(apps: dict[str, dict[str, set[str]]]) -> list[str]:
    """Each import that goes sideways or up the layers, or comes from or goes to an app LAYERS does not place."""
    found = []
    for app, targets in sorted(apps.items()):
        for target, how in sorted(targets.items()):
            if app not in LAYER_OF or target not in LAYER_OF:
                unplaced = app if app not in LAYER_OF else target
                found.append(f"{unplaced} has no place in LAYERS: put it in its layer ({sorted(how)[0]})")
            elif LAYER_OF[target] <= LAYER_OF[app]:
                found.append(f"{app} may not import {target}, its own layer or above: {', '.join(sorted(how))}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _cycles_message(found: list[list[str]]) -> str:
    return "import cycles (each a set of modules that import each other):\n" + "\n".join(
        " <-> ".join(cycle) for cycle in found
    )


def test_the_graph_sees_lazy_and_relative_imports():
    graph = import_graph()
    assert "kissweb.jobs.models" in graph["kissweb.jobs.runner"]
    assert "kissweb.settings.base" in graph["kissweb.settings.test"]  # `from ... import *`
    assert "kissweb.analysis.selectors" in graph["kissweb.training.dataset"]  # imported inside a function
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_an_upward_or_sideways_import_is_caught():
    apps = app_graph({
        "kissweb.library.services": {"kissweb.analysis.services"},  # up
        "kissweb.analysis.services": {"kissweb.library.models"},  # down: allowed
        "kissweb.exports.apis": {"kissweb.training.apis"},  # sideways
        "kissweb.newapp.x": {"kissweb.errors"},  # not placed
    })
    found = layer_violations(apps)
    assert len(found) == 3
    assert found[0].startswith("kissweb.exports may not import kissweb.training")
    assert found[1].startswith("kissweb.library may not import kissweb.analysis")
    assert found[2].startswith("kissweb.newapp has no place in LAYERS")
    assert cycles({app: set(targets) for app, targets in apps.items()}) == [["kissweb.analysis", "kissweb.library"]]


def test_no_import_cycle_among_kissweb_modules():
    found = cycles(import_graph())
    assert found == [], _cycles_message(found)


def test_kissweb_apps_import_only_downwards():
    apps = app_graph(import_graph())
    assert set(apps) <= set(LAYER_OF), f"apps with no place in LAYERS: {sorted(set(apps) - set(LAYER_OF))}"
    found = layer_violations(apps)
    assert found == [], "imports against the layers (docs/architecture.md):\n" + "\n".join(found)
    app_cycles = cycles({app: set(targets) for app, targets in apps.items()})
    assert app_cycles == [], _cycles_message(app_cycles)


def test_no_import_cycle_in_the_detector():
    found = cycles(import_graph("detector"))
    assert found == [], _cycles_message(found)


def test_the_detector_imports_neither_kissweb_nor_django():
    found = sorted(
        f"{name} imports {target}"
        for name, path in _modules("detector").items()
        for target in imported_names(name, path)
        if target.split(".")[0] in ("kissweb", "django", "rest_framework")
    )
    assert found == []


def test_migrations_import_no_live_code():
    found = sorted(
        f"{name} imports {target}"
        for name, path in _modules("kissweb", migrations=True).items()
        for target in imported_names(name, path)
        if target.split(".")[0] in ("kissweb", "detector")
    )
    assert found == [], "a migration must not import live code (copy the values it needs into it):\n" + "\n".join(found)
