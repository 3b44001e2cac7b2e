"""Each security check's outcome is a reliability figure (``security.jsonl``)."""

from __future__ import annotations

import pytest

from tests.harness.reliability import record


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        record("security", {"check": report.nodeid, "outcome": report.outcome})
