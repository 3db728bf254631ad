"""Data flows one way: the protocol layer knows nothing of the ketamine services."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cds_service"


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_protocol_does_not_import_services_record_or_clinical() -> None:
    for module in (PACKAGE / "protocol").glob("*.py"):
        forbidden = {
            n
            for n in imports_of(module)
            if n.startswith(("cds_service.services", "cds_service.record", "cds_service.clinical"))
        }
        assert not forbidden, f"{module.name} imports {forbidden}"


def test_storage_does_not_import_flask() -> None:
    for module in (PACKAGE / "storage").glob("*.py"):
        assert not {n for n in imports_of(module) if n.startswith("flask")}, module.name


def test_clinical_rules_know_nothing_of_flask_protocol_or_cards() -> None:
    for module in (PACKAGE / "clinical").glob("*.py"):
        bad = {
            n
            for n in imports_of(module)
            if n.startswith(("flask", "cds_service.protocol", "cds_service.services", "jinja2"))
        }
        assert not bad, f"{module.name} imports {bad}"


def test_the_record_layer_does_not_import_flask_or_services() -> None:
    for module in (PACKAGE / "record").glob("*.py"):
        bad = {
            n
            for n in imports_of(module)
            if n.startswith(("flask", "cds_service.services", "cds_service.clinical"))
        }
        assert not bad, f"{module.name} imports {bad}"
