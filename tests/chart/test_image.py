"""The Dockerfile (no Docker engine here): hadolint, its shape, and every container command.

Every command that the chart or the renderer puts in a container running the product's
image must be an entry point of the installed package, with arguments its CLI accepts.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import tomllib
from importlib.metadata import distribution
from pathlib import Path

import pytest

from tests.chart.helm import Manifest, kinds, template
from tests.harness.tools import ROOT, hadolint
from tests.unit.render_corpus import ALL, load
from tradingstack_operator.render import pods, render
from tradingstack_workers import WORKER_KINDS, cli

DOCKERFILE = ROOT / "Dockerfile"


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]


def test_hadolint_passes() -> None:
    result = _lint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y gcc\n")
    result = _lint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag


def test_multi_stage_non_root_with_oci_labels() -> None:
    froms = [args for op, args in _instructions() if op == "FROM"]
    assert len(froms) >= 2, "build and final stages"
    final = _final_stage()
    (user,) = [args for op, args in final if op == "USER"]
    assert user == f"{pods.RUN_AS}:{pods.RUN_AS}", "numeric uid:gid, the pods' runAsUser"
    (entrypoint,) = [json.loads(args) for op, args in final if op == "ENTRYPOINT"]
    assert entrypoint == ["tradingstack"]
    labels = " ".join(args for op, args in final if op == "LABEL")
    for key in ("title", "description", "version", "revision", "created", "source", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels, key
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"ARG VERSION={version}" in DOCKERFILE.read_text()
    copied = [args for op, args in final if op == "COPY"]
    assert copied
    assert all(args.startswith("--from=") for args in copied), "only the build's output"
    runs = " ".join(args for op, args in final if op == "RUN")
    for tool in ("apt-get install", "gcc", "build-essential", "pip install"):
        assert tool not in runs, tool
    assert "pip uninstall" in runs, "the base image's pip and setuptools are removed"


def _console_scripts() -> dict[str, str]:
    return {
        e.name: e.value for e in distribution("tradingstack").entry_points
        if e.group == "console_scripts"
    }  # fmt: skip


def _product_commands(tmp_path: Path) -> list[tuple[str, list[str]]]:
    """(where, argv) of every container that runs the product's image."""
    commands: list[tuple[str, list[str]]] = []
    for path in ALL:
        stack = load(path)
        for manifest in render(stack):
            commands += _of(manifest, stack.image, f"render {path.stem}")
    for values in ({}, {"standby": {"enabled": True}}):
        for manifest in kinds(template(tmp_path, values), "Deployment"):
            image = manifest["spec"]["template"]["spec"]["containers"][0]["image"]
            commands += _of(manifest, image, "chart")
    return commands


def _of(manifest: Manifest, image: str, where: str) -> list[tuple[str, list[str]]]:
    template = manifest.get("spec", {}).get("template", {}).get("spec", {})
    containers = [*template.get("initContainers", []), *template.get("containers", [])]
    return [
        (f"{where}: {manifest['kind']}/{manifest['metadata']['name']}/{c['name']}",
         [*c.get("command", ["tradingstack"]), *c.get("args", [])])
        for c in containers if c["image"] == image
    ]  # fmt: skip


def test_every_product_container_runs_an_entry_point_of_the_package(tmp_path: Path) -> None:
    scripts = _console_scripts()
    assert scripts.get("tradingstack") == "tradingstack_workers.cli:main"
    commands = _product_commands(tmp_path)
    assert any("chart" in w for w, _ in commands)
    assert any("render" in w for w, _ in commands)
    parser = cli.build_parser()
    for where, argv in commands:
        assert argv[0] in scripts, f"{where}: {argv[0]} is not an entry point"
        try:
            args = parser.parse_args(argv[1:])
        except SystemExit:
            pytest.fail(f"{where}: {argv} is refused by the CLI")
        if args.command == "worker":
            assert args.kind in WORKER_KINDS, f"{where}: unknown worker kind {args.kind}"
            assert callable(importlib.import_module(cli.main_module(args.kind)).main)


def test_the_build_context_holds_what_the_build_copies() -> None:
    ignored = (ROOT / ".dockerignore").read_text().splitlines()
    kept = {line[1:].rstrip("/") for line in ignored if line.startswith("!")}
    sources = {
        part.rstrip("/")
        for op, args in _instructions() if op == "COPY" and not args.startswith("--from=")
        for part in args.split()[:-1]
    }  # fmt: skip
    assert sources <= kept, sources - kept
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = build["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    assert {p.split("/")[0] for p in packages} <= sources
