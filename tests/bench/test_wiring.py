"""The benchmarks hold together: every module imports, and every option a benchmark reads exists.

`make bench` runs for minutes on PostgreSQL, so CI does not run it; these
catch in seconds what broke it twice in one round: an option renamed in
bench/__main__.py but still read by a benchmark, and an import moved away.
"""

import ast
import importlib
from pathlib import Path

import pytest

from bench.__main__ import ORDER, parse_arguments

BENCH = Path(__file__).resolve().parents[2] / "bench"


def options_read(path: Path) -> set[str]:
    """The `run.args.<name>` and `args.<name>` a module reads."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute | ast.Name):
            owner = node.value.attr if isinstance(node.value, ast.Attribute) else node.value.id
            if owner == "args":
                names.add(node.attr)
    return names


@pytest.mark.parametrize("module", [name for _, name in ORDER])
def test_every_benchmark_imports(module):
    assert callable(importlib.import_module(module).run)


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda path: path.name)
def test_every_option_a_benchmark_reads_exists(path):
    defined = set(vars(parse_arguments([])))

    assert options_read(path) - defined == set()
