"""SQL is only parameterised: values are always bound (``?``), never put into the statement text.

A static check of the source: SQL lives in ``db/`` only; an f-string that builds SQL may interpolate only
``_marks(...)`` (a list of ``?``), ``_identifier(...)`` (``db.migrate``: a table or column name read from a
schema, checked to be a plain lower-case name, then quoted), module constants (column names, status lists) and
what is derived from them;
``%`` and ``.format`` never build SQL. The store round-trips hostile text in ``tests/property/test_prompts.py``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|PRAGMA|BEGIN|COMMIT|ROLLBACK|CREATE|DROP|WHERE|VALUES)\b")
SQL_STATEMENT = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b", re.DOTALL)
CONSTANT_NAME = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
# Migrations are SQL files shipped in the package, applied with their number: reviewed, not user data.
MIGRATION_NAMES = {("connection.py", "sql"), ("connection.py", "version")}


def _sql_text(node: ast.JoinedStr) -> str:
    return "".join(v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str))


class Checker(ast.NodeVisitor):
    """Finds SQL built from anything but constants in one module."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []
        self.function: ast.FunctionDef | ast.AsyncFunctionDef | None = None

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.function = self.function, node
        self.generic_visit(node)
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if SQL_WORDS.search(_sql_text(node)):
            for value in node.values:
                if isinstance(value, ast.FormattedValue) and not self._safe(value.value, set()):
                    self._problem(node, f"interpolates {ast.unparse(value.value)!r}")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) and SQL_WORDS.search(
                str(node.left.value)):
            self._problem(node, "builds SQL with %")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (isinstance(func, ast.Attribute) and func.attr == "format" and isinstance(func.value, ast.Constant)
                and SQL_WORDS.search(str(func.value.value))):
            self._problem(node, "builds SQL with .format()")
        self.generic_visit(node)

    def _safe(self, expr: ast.expr, seen: set[str]) -> bool:
        """Whether ``expr`` can only produce text the module itself fixed."""
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "_marks":
            return True  # only "?, ?, ?": the values it counts are bound separately
        if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "_identifier":
            return True  # a plain lower-case name or an exception (tests/db/test_migrate.py)
        local_targets = {n.id for gen in ast.walk(expr) if isinstance(gen, ast.comprehension)
                         for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        for name in (n for n in ast.walk(expr) if isinstance(n, ast.Name)):
            if name.id in local_targets or CONSTANT_NAME.match(name.id) or name.id in {"_marks", "str", "tuple"}:
                continue
            if (self.path.name, name.id) in MIGRATION_NAMES:
                continue
            if name.id in seen or not self._safe_local(name.id, seen | {name.id}):
                return False
        return True

    def _safe_local(self, name: str, seen: set[str]) -> bool:
        """A local variable is safe when every assignment to it in the function is safe."""
        if self.function is None:
            return False
        values = [n.value for n in ast.walk(self.function) if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
        return bool(values) and all(self._safe(v, seen) for v in values)

    def _problem(self, node: ast.AST, what: str) -> None:
        where = self.path.relative_to(ROOT) if self.path.is_relative_to(ROOT) else self.path.name
        self.problems.append(f"{where}:{getattr(node, 'lineno', '?')}: {what}")


def sql_problems(paths: list[Path]) -> list[str]:
    """Every unsafe SQL construction in the given modules."""
    problems: list[str] = []
    for path in paths:
        checker = Checker(path)
        checker.visit(ast.parse(path.read_text(encoding="utf-8")))
        problems += checker.problems
    return problems


def test_sql_in_the_store_is_only_parameterised() -> None:
    modules = sorted((ROOT / "db").rglob("*.py"))
    assert len(modules) >= 3
    assert sql_problems(modules) == []


def test_no_sql_outside_the_store() -> None:
    found = []
    for path in sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "cogs").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_STATEMENT.search(node.value):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


def test_the_checker_catches_values_in_sql(tmp_path: Path) -> None:
    bad = tmp_path / "store.py"
    bad.write_text(
        "async def find(self, prompt, ids):\n"
        "    await self._conn.execute(f\"SELECT * FROM jobs WHERE prompt = '{prompt}'\")\n"
        "    where = f\"id = {ids[0]}\"\n"
        "    await self._conn.execute(f\"SELECT * FROM jobs WHERE {where}\")\n"
        "    await self._conn.execute(\"DELETE FROM jobs WHERE id = %s\" % ids[0])\n"
        "    await self._conn.execute(\"UPDATE jobs SET prompt = '{}'\".format(prompt))\n"
        "    await self._conn.execute(f\"SELECT * FROM jobs WHERE status IN ({_marks(ids)})\", ids)\n"
    )
    problems = sql_problems([bad])
    assert len(problems) == 4, problems  # the last statement, with only "?" interpolated, is fine
