"""The shape of the suite: services never import each other; casekit imports no service or gateway."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = sorted(p.name for p in (ROOT / "services").iterdir() if (p / "__init__.py").exists())


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def python_files(package: Path) -> list[Path]:
    return sorted(package.rglob("*.py"))


def test_every_service_has_the_standard_files() -> None:
    assert SERVICES == ["cases", "documents", "notifications", "routing", "search"]
    for name in SERVICES:
        for required in ("__init__.py", "service.py", "config.yml"):
            assert (ROOT / "services" / name / required).exists(), f"services/{name}/{required}"


@pytest.mark.parametrize("service", SERVICES)
def test_service_imports_no_other_service(service: str) -> None:
    offenders = []
    for path in python_files(ROOT / "services" / service):
        for module in imported_modules(path):
            parts = module.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] != service:
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
            if parts[0] == "gateway":
                offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_casekit_imports_neither_services_nor_gateway() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(ROOT / "casekit")
        for module in imported_modules(path)
        if module.split(".")[0] in ("services", "gateway")
    ]
    assert offenders == []


def test_gateway_reaches_services_only_over_rpc() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in python_files(ROOT / "gateway")
        for module in imported_modules(path)
        if module.split(".")[0] == "services"
    ]
    assert offenders == []


def test_the_detector_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from services.routing import logic\nimport services.search.index\n")
    assert {"services.routing", "services.search.index"} <= imported_modules(bad)
