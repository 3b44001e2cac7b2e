"""``tradingstack render FILE``: YAML out, every bad field named."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from tests.unit.render_corpus import DATA, children

from tradingstack_operator.render import render_children
from tradingstack_operator.render.cli import render_command, render_yaml
from tradingstack_operator.spec import SpecError, parse_spec
from tradingstack_workers.up.runner import load_stack


def test_render_prints_every_child_as_multi_document_yaml() -> None:
    text = render_yaml(DATA / "render" / "full.yaml")
    assert text == render_yaml(DATA / "render" / "full.yaml")
    documents = list(yaml.safe_load_all(text))
    assert documents == children("full")
    assert text.startswith("---\napiVersion: v1\nkind: ConfigMap\n")
    assert "redis.sh: |" in text  # scripts read as blocks


def test_render_writes_no_yaml_anchors() -> None:
    """Redis and Sentinel share Python objects; the YAML must still spell each out."""
    text = render_yaml(DATA / "render" / "full.yaml")
    assert "&id" not in text
    assert "*id" not in text


HALTED_TWICE = """apiVersion: tradingstack.io/v1alpha1
kind: TradingStack
metadata: {name: a}
spec:
  symbols: [BTCUSDT]
  halted: true
  bots: [{name: b, strategy: rsi_mean_reversion, symbols: [BTCUSDT], params: {period: 14}}]
  halted: false
"""


def test_a_key_defined_twice_is_refused_not_silently_overridden(tmp_path: Path) -> None:
    """The kill switch must not flip off because a later line repeats it (kubectl refuses)."""
    path = tmp_path / "stack.yaml"
    path.write_text(HALTED_TWICE, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        render_yaml(path)
    assert [str(p) for p in caught.value.problems] == ["spec.halted: defined twice (lines 6 and 8)"]
    nested = HALTED_TWICE.replace("halted: false\n", "").replace(
        "params: {period: 14}", "params: {period: 14, period: 20}"
    )
    path.write_text(nested, encoding="utf-8")
    with pytest.raises(SpecError, match=r"spec\.bots\[0\]\.params\.period: defined twice"):
        render_yaml(path)


def test_up_reads_the_manifest_with_the_same_loader(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(HALTED_TWICE, encoding="utf-8")
    with pytest.raises(SpecError, match=r"spec\.halted: defined twice"):
        load_stack(path)


def test_namespace_defaults_when_the_manifest_names_none() -> None:
    documents = list(yaml.safe_load_all(render_yaml(DATA / "render" / "minimal.yaml", "ops")))
    assert {d["metadata"]["namespace"] for d in documents} == {"ops"}


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nspec: {symbols: [BTCUSDT]}",
         ("apiVersion", "kind")),
        ("apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\nmetadata: {name: 1a}\n"
         "spec: {symbols: [BTCUSDT]}", ("metadata.name",)),
        ("apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\nmetadata: {name: a}\n"
         "spec: {symbols: [BTCUSDT], redis: {replicas: 2}}", ("spec.redis.replicas",)),
        ("apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\nmetadata: {name: a}\n",
         ("spec",)),
        ("[a, b]", ("line 1, column 1",)),
    ],
)  # fmt: skip
def test_errors_name_the_field(tmp_path: Path, text: str, paths: tuple[str, ...]) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        render_yaml(path)
    assert tuple(p.path.removeprefix(str(tmp_path) + "/") for p in caught.value.problems) == paths


def test_a_stack_name_too_long_for_its_services_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(
        "apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\n"
        f"metadata: {{name: {'a' * 49}}}\nspec: {{symbols: [BTCUSDT]}}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"metadata\.name: .* longer than 48"):
        render_yaml(path)


def test_render_command_prints_yaml_or_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert render_command(str(DATA / "render" / "minimal.yaml")) == 0
    assert list(yaml.safe_load_all(capsys.readouterr().out)) == children("minimal")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\nmetadata: {name: a}\n"
        "spec: {symbols: [BTCUSDT], mode: demo, halted: 'yes'}\n",
        encoding="utf-8",
    )
    assert render_command(str(bad)) == 1
    err = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[2] for line in err] == ["spec.mode", "spec.halted"]
    assert render_command(str(tmp_path / "missing.yaml")) == 1
    assert "No such file" in capsys.readouterr().err


def test_render_refuses_a_name_its_services_cannot_carry() -> None:
    spec = parse_spec({"symbols": ["BTCUSDT"]})
    with pytest.raises(SpecError, match=r"metadata\.name: '9lives' must start with a letter"):
        render_children("9lives", "desk", spec)


def test_live_mode_is_refused_without_an_exchange(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(
        "apiVersion: tradingstack.io/v1alpha1\nkind: TradingStack\n"
        "metadata: {name: a}\nspec: {symbols: [BTCUSDT], mode: live}\n",
        encoding="utf-8",
    )
    assert render_command(str(path)) == 1
    err = capsys.readouterr().err
    assert "spec.mode: live needs at least one bot with an exchange" in err
    assert "use mode: paper" in err


@pytest.mark.parametrize(
    ("raw", "where", "problem"),
    [
        (b"a: b\n  c: d: e\n", "line 2, column 4", "not YAML: mapping values are not allowed"),
        (b"kind: [\n", "line 2, column 1", "not YAML: while parsing a flow node"),
        (b"kind: TradingStack\n\xff\xfe\n", "line 2", "not UTF-8 text"),
        (b"", "line 1", "must hold one TradingStack object"),
    ],
)
def test_a_file_that_is_no_manifest_is_named_once_with_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: bytes, where: str, problem: str
) -> None:
    path = tmp_path / "not-yaml.yaml"
    path.write_bytes(raw)
    assert render_command(str(path)) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"tradingstack render: {path}: {where}: {problem}")
    assert line.count("not-yaml.yaml") == 1
    assert "<unicode string>" not in line
