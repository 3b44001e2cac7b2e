"""The repo's timing rules, checked on every test module: CI shares two cores with whatever
else runs, so a test never asserts a duration and never sleeps a fixed time for something
to happen. Durations are figures in bench/; waits poll a condition with a generous deadline.

What counts, read from the syntax tree of each module under tests/:

- a duration assertion: an ``assert`` comparing a difference of which one side is a clock
  reading (``time.monotonic()``, ``perf_counter()``, ``time.time()``, an event loop's
  ``time()``, or a name assigned from one), a name assigned from such a difference, or a
  variable named with ``took``, ``elapsed``, ``duration`` or ``latency`` (a constant such
  as ``DURATION`` is a setting).
  Instants may be compared (``written <= ts <= time.time()``) and offset (``booked + 60
  <= expiry``): neither is a measured duration.
- a fixed sleep: ``time.sleep(...)`` or ``asyncio.sleep(...)`` in a test module (``test_*.py``)
  outside a ``while`` loop. Inside one it is the poll interval of a wait.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
#: Sources the rules must refuse and must let be: data, not test code, so that no scan
#: of the tests' text takes the refused examples for durations the suite asserts.
EXAMPLES: dict[str, list[str]] = json.loads(
    (TESTS / "data" / "timing_rules.json").read_text(encoding="utf-8")
)
CLOCKS = {"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time", "time_ns"}
DURATION_WORDS = {"took", "elapsed", "duration", "latency"}
SLEEPS = {("time", "sleep"), ("asyncio", "sleep")}


def is_clock_call(node: ast.AST) -> bool:
    """``time.monotonic()``, ``loop.time()``, ``perf_counter()`` and the like."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr in CLOCKS and not node.args
    return isinstance(func, ast.Name) and func.id in CLOCKS - {"time"} and not node.args


def is_duration_name(name: str) -> bool:
    """A variable named for a measured duration (an UPPER_CASE constant is a setting)."""
    return not name.isupper() and any(word in DURATION_WORDS for word in name.split("_"))


class Scope(ast.NodeVisitor):
    """One function (or the module): its clock names first, then its asserts and sleeps."""

    def __init__(self, path: str, inherited: frozenset[str] = frozenset()) -> None:
        self.path = path
        self.clock_names: set[str] = set(inherited)
        self.duration_names: set[str] = set()
        self.problems: list[str] = []
        self.loops = 0

    def reads_clock(self, node: ast.AST) -> bool:
        return any(
            is_clock_call(n) or (isinstance(n, ast.Name) and n.id in self.clock_names)
            for n in ast.walk(node)
        )

    def collect_clock_names(self, body: list[ast.stmt]) -> None:
        """Names assigned from a clock reading, anywhere in ``body`` (not nested functions)."""
        changed = True
        while changed:  # `a = time.time(); b = a + 1`: b is a clock reading too
            changed = False
            for node in walk_scope(body):
                targets: list[ast.expr] = []
                value: ast.expr | None = None
                if isinstance(node, ast.Assign):
                    targets, value = node.targets, node.value
                elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)):
                    targets, value = [node.target], node.value
                if value is None or not self.reads_clock(value):
                    continue
                names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
                if self.has_difference(value):
                    self.duration_names.update(names)
                changed |= not self.clock_names.issuperset(names)
                self.clock_names.update(names)

    def run(self, body: list[ast.stmt]) -> list[str]:
        self.collect_clock_names(body)
        for statement in body:
            self.visit(statement)
        return self.problems

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.problems += Scope(self.path, frozenset(self.clock_names)).run(node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.problems += Scope(self.path, frozenset(self.clock_names)).run(node.body)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return  # a wait's condition, not an assertion

    def generic_visit(self, node: ast.AST) -> None:
        looping = isinstance(node, ast.While)
        self.loops += looping
        super().generic_visit(node)
        self.loops -= looping

    def visit_Assert(self, node: ast.Assert) -> None:
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            for operand in [compare.left, *compare.comparators]:
                if self.is_duration(operand):
                    self.problems.append(
                        f"{self.path}:{node.lineno}: asserts a duration: {ast.unparse(node.test)}"
                    )
                    return

    def has_difference(self, node: ast.AST) -> bool:
        """Whether ``node`` subtracts a clock reading or subtracts from one: a duration."""
        return any(
            isinstance(n, ast.BinOp)
            and isinstance(n.op, ast.Sub)
            and (self.reads_clock(n.left) or self.reads_clock(n.right))
            for n in ast.walk(node)
        )

    def is_duration(self, operand: ast.expr) -> bool:
        return self.has_difference(operand) or any(
            isinstance(n, ast.Name) and (n.id in self.duration_names or is_duration_name(n.id))
            for n in ast.walk(operand)
        )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if (
            self.path.rsplit("/", 1)[-1].startswith("test_")
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and (func.value.id, func.attr) in SLEEPS
            and not self.loops
        ):
            self.problems.append(
                f"{self.path}:{node.lineno}: sleeps a fixed time: {ast.unparse(node)}"
            )
        self.generic_visit(node)


def walk_scope(body: list[ast.stmt]) -> Iterator[ast.AST]:
    """Every node of ``body`` except what nested functions and lambdas hold."""
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def problems(source: str, path: str = "tests/unit/test_example.py") -> list[str]:
    return Scope(path).run(ast.parse(source).body)


def test_no_test_module_asserts_a_duration_or_sleeps_a_fixed_time() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        found += problems(path.read_text(encoding="utf-8"), str(path.relative_to(TESTS.parent)))
    assert found == []


@pytest.mark.parametrize("source", EXAMPLES["refused"])
def test_the_rules_catch_durations_and_fixed_sleeps(source: str) -> None:
    assert len(problems(source)) == 1, source


@pytest.mark.parametrize("source", EXAMPLES["allowed"])
def test_the_rules_let_instants_settings_and_polling_be(source: str) -> None:
    assert problems(source) == [], source


def test_sleeps_in_harness_modules_are_the_workers_own() -> None:
    source = "def step():\n    time.sleep(settings.step_seconds)\n"
    assert problems(source, "tests/harness/sample_worker.py") == []
    assert len(problems(source, "tests/integration/test_x.py")) == 1
