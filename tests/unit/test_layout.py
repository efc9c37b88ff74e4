"""Test modules share builders, sample data and fixtures through support modules (``tests/builders.py``,
``tests/live.py``, …) and conftest files, never by importing one another: a test module imported by another
drags its module-level skips, fixtures and import cycles along, and a newcomer cannot tell a test from a
helper. The files are parsed (``ast``), not imported, so an import inside a function counts as well."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _imported(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """Every module an import in ``tree`` names, with its line (``from a import b`` names ``a`` and ``a.b``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def _is_test_module(module: str) -> bool:
    """``tests.…test_x`` or a conftest below ``tests/`` (pytest finds those fixtures without an import)."""
    parts = module.split(".")
    if parts[0] != "tests":
        return False
    return any(part.startswith("test_") for part in parts[1:]) or "conftest" in parts[2:]


def cross_imports(source: str, package: str) -> list[tuple[int, str]]:
    """The imports of test modules in ``source`` (a file of ``package``)."""
    return sorted({(line, module) for line, module in _imported(ast.parse(source), package) if _is_test_module(module)})


def test_no_module_imports_a_test_module() -> None:
    found = []
    for folder in ("tests", "bench"):
        for path in sorted((REPO / folder).rglob("*.py")):
            package = ".".join(path.relative_to(REPO).parent.parts)
            for line, module in cross_imports(path.read_text(encoding="utf-8"), package):
                found.append(f"{path.relative_to(REPO)}:{line} imports {module}")
    assert found == [], "move shared helpers into a support module:\n" + "\n".join(found)


def test_the_check_sees_every_form_of_import() -> None:
    source = """
from tests.builders import TERMS
from tests.conftest import Api
from tests.e2e.chromium import PHONE
import tests.unit.test_h264
from tests.integration import test_api
from tests.e2e.conftest import browser

def later():
    from tests.integration.test_service import signed_case
    from .test_agreement import TERMS
"""
    found = {module for _, module in cross_imports(source, "tests.integration")}
    assert found == {
        "tests.unit.test_h264",
        "tests.integration.test_api",
        "tests.e2e.conftest",
        "tests.e2e.conftest.browser",
        "tests.integration.test_service",
        "tests.integration.test_service.signed_case",
        "tests.integration.test_agreement",
        "tests.integration.test_agreement.TERMS",
    }
