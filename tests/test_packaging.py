"""pyproject.toml lists its packages by hand (cards/ is mapped in); none may be forgotten."""

from __future__ import annotations

import tomllib

from tests.builders import ROOT


def test_every_sub_package_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "cds_service").rglob("__init__.py")
    } | {"cds_service.cards", "cds_service.fixtures"}
    assert found == listed
