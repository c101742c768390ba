"""The layers: core/ is the platform below the apps, config/ the composition root above them.

Imports only run down: core/ knows no app; the write side (commands/) knows
neither the projections nor the read side; only config's composition-root files
wire the apps together. Imports inside functions count too: hiding one there
does not change which way it runs.
"""

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
APPS = ("commands", "projections", "queries")
# config/'s own files that compose the apps into a site; the rest of config/ is as low as core/.
COMPOSITION_ROOT = {"settings", "urls", "api", "api_root", "schema", "celery", "wsgi", "asgi", "admin", "apps"}


def imported_packages(path: Path) -> set[str]:
    """The top-level package of every module `path` imports, at any depth of the file."""
    packages = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            packages.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            packages.add(node.module.split(".")[0])
    return packages


def layer_breaches(folder: str, forbidden: tuple[str, ...], allowed_files: set[str] = frozenset()) -> list[str]:
    breaches = []
    for path in sorted((PROJECT / folder).rglob("*.py")):
        if path.stem in allowed_files and path.parent == PROJECT / folder:
            continue
        for package in sorted(imported_packages(path) & set(forbidden)):
            breaches.append(f"{path.relative_to(PROJECT)} imports {package}")
    return breaches


@pytest.mark.parametrize(
    ("folder", "forbidden", "allowed_files"),
    [
        ("core", APPS, set()),
        ("config", APPS, COMPOSITION_ROOT),
        ("commands", ("projections", "queries"), set()),
    ],
    ids=["core knows no app", "config outside its composition root knows no app", "commands knows no read side"],
)
def test_imports_run_down_the_layers(folder, forbidden, allowed_files):
    assert layer_breaches(folder, forbidden, allowed_files) == []


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path):
    module = tmp_path / "platform.py"
    module.write_text("def check():\n    from queries.models import OrderSummary\n    return OrderSummary\n")

    assert imported_packages(module) >= {"queries"}
