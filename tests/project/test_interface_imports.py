"""The interface modules (/metrics, /health, /stats, the dashboard) read through the owning
apps' selectors and import at module level; the Celery app and /health do not import each other
(the heartbeat bookkeeping both use sits below them, in project.lib.heartbeat)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import grimp
import pytest
from celery import signals

from project.lib import heartbeat
from tests.processes import ROOT

INTERFACES = [
    "project/metrics.py",
    "project/health.py",
    "project/stats.py",
    "project/celery.py",
    *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "dashboard").glob("*.py")),
]
# The product's apps: an interface reads their rows through their selectors, never their models.
APPS = ("contacts", "messaging", "ai", "calls", "followups", "payments", "assistant")


def imports_inside_functions(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    found.append(f"{path.name}:{inner.lineno} in {node.name}()")
    return found


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("module", INTERFACES)
def test_an_interface_module_imports_at_module_level(module):
    # An import inside a function hides a dependency from the reader and from the import contract.
    assert imports_inside_functions(ROOT / module) == []


@pytest.mark.parametrize("module", INTERFACES)
def test_an_interface_module_queries_no_apps_models_directly(module):
    models = {name for name in imported_modules(ROOT / module) if name.split(".")[0] in APPS and ".models" in name}
    assert models == set()


def test_the_celery_app_and_health_do_not_import_each_other():
    graph = grimp.build_graph("project", *APPS, "api", "dashboard", "backoffice")
    assert graph.find_shortest_chain(importer="project.celery", imported="project.health") is None
    assert graph.find_shortest_chain(importer="project.lib.heartbeat", imported="project.celery") is None


def test_a_beat_process_names_itself_on_the_heartbeats_it_sends_and_on_nothing_else(monkeypatch):
    monkeypatch.setattr(heartbeat, "_beat_identity", None)
    signals.beat_init.send(sender=None)  # what `celery beat` sends as it starts
    heartbeat_headers: dict = {}
    other_headers: dict = {}

    signals.before_task_publish.send(sender="project.heartbeat", headers=heartbeat_headers, body=None)
    signals.before_task_publish.send(sender="followups.run_due", headers=other_headers, body=None)

    assert heartbeat_headers["beat_id"].endswith(f":{os.getpid()}")
    assert "beat_id" not in other_headers
