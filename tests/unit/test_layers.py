"""Routes parse, call a service and render (ARCHITECTURE.md, "Inside a side"): no route module builds
SQL or imports the store's tables. Checked on the source text, so no app needs to be built."""

from __future__ import annotations

import ast
from pathlib import Path

import slotlinks

SOURCE = Path(slotlinks.__file__).resolve().parent
# SQLAlchemy's statement and expression builders; `Connection` as a type is not SQL.
SQL_BUILDERS = {"select", "insert", "update", "delete", "exists", "text", "and_", "or_", "not_", "func", "case"}


def _route_modules() -> list[Path]:
    found = [p for p in SOURCE.rglob("*.py") if "routes" in p.stem or p.stem == "pages"]
    return sorted(found)


def _sql_imports(path: Path) -> list[str]:
    wrong = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module.startswith("sqlalchemy") and names & SQL_BUILDERS:
                wrong.append(f"from {node.module} import {', '.join(sorted(names & SQL_BUILDERS))}")
            if node.module.endswith("store.tables") or (node.module.endswith(".store") and "tables" in names):
                wrong.append(f"from {node.module} import {', '.join(sorted(names))}")
        if isinstance(node, ast.Attribute) and node.attr in {"execute", "exec_driver_sql"}:
            wrong.append(f"line {node.lineno}: .{node.attr}(...)")
    return wrong


def test_there_are_route_modules_to_check() -> None:
    names = {p.relative_to(SOURCE).as_posix() for p in _route_modules()}
    assert {"provider/portal/routes.py", "discovery/search/pages.py", "provider/admin/booking_routes.py"} <= names
    assert "provider/portal/appointment_routes.py" in names


def test_route_modules_build_no_sql_and_import_no_tables() -> None:
    offenders = {p.relative_to(SOURCE).as_posix(): w for p in _route_modules() if (w := _sql_imports(p))}
    assert offenders == {}
