"""Hash stability: what must not change a step's identity, and what must change exactly the right ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lmspec.compiler import compile_spec

SPEC = """
[experiment]
name = "ident"

[steps.docs]
kind = "ingest"
paths = ["a.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "compression_ratio", min = 0.1, max = 0.9 }]

[steps.tok]
kind = "train_tokenizer"
input = "@docs"

[steps.tokens]
kind = "tokenize"
input = "@clean"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
steps = 10
batch_size = 2
optimizer = { lr = 1e-3, weight_decay = 0.1 }
resources = { accelerator = "cpu" }
"""

YAML_TWIN = """
steps:
  model:
    resources: {accelerator: cpu}
    optimizer: {weight_decay: 0.1, lr: 0.001}
    batch_size: 2
    steps: 10
    data: "@tokens"
    kind: train
  tokens: {tokenizer: "@tok", input: "@clean", kind: tokenize}
  tok: {input: "@docs", kind: train_tokenizer}
  clean:
    rules:
      - {max: 0.9, min: 0.1, kind: compression_ratio}
    input: "@docs"
    kind: filter
  docs: {format: jsonl, paths: [a.jsonl], kind: ingest}
experiment: {name: ident}
"""


def hashes(write_spec: Callable[..., Path], text: str, name: str = "spec.toml", root: str = "/runs") -> dict[str, str]:
    plan = compile_spec(write_spec(text, name), root)
    return {step.name: step.hash for step in plan.steps}


def test_hashes_are_hex_and_paths_are_root_name_hash(write_spec: Callable[..., Path]) -> None:
    plan = compile_spec(write_spec(SPEC), "/runs")
    for step in plan.steps:
        assert len(step.hash) >= 8
        assert int(step.hash, 16) >= 0
        assert step.hash == step.hash.lower()
        assert step.output_path == f"/runs/{step.name}-{step.hash}"


def test_yaml_twin_with_other_key_order_and_number_spelling_hashes_the_same(write_spec: Callable[..., Path]) -> None:
    assert hashes(write_spec, SPEC) == hashes(write_spec, YAML_TWIN, "spec.yaml")


def test_number_spelling_does_not_matter(write_spec: Callable[..., Path]) -> None:
    base = hashes(write_spec, SPEC)
    assert hashes(write_spec, SPEC.replace("lr = 1e-3", "lr = 0.001")) == base
    assert hashes(write_spec, SPEC.replace("lr = 1e-3", "lr = 1.0e-3")) == base
    assert hashes(write_spec, SPEC.replace("weight_decay = 0.1", "weight_decay = 1e-1")) == base


def test_writing_a_default_explicitly_does_not_matter(write_spec: Callable[..., Path]) -> None:
    explicit = SPEC.replace('input = "@docs"\n\n[steps.tokens]', 'input = "@docs"\nvocab_size = 8192\n\n[steps.tokens]')
    assert hashes(write_spec, explicit) == hashes(write_spec, SPEC)


def test_execution_only_fields_and_root_keep_every_hash(write_spec: Callable[..., Path]) -> None:
    base = hashes(write_spec, SPEC)
    moved = SPEC.replace('resources = { accelerator = "cpu" }', 'resources = { accelerator = "tpu", type = "v5e-8" }')
    moved += 'workers = 8\ndescription = "same thing, elsewhere"\n'
    moved = moved.replace('format = "jsonl"', 'format = "jsonl"\nrunner = { name = "DaskRunner" }')
    assert hashes(write_spec, moved) == base
    assert hashes(write_spec, SPEC, root="gs://bucket/elsewhere") == base


def test_threshold_change_moves_that_step_and_downstream_only(write_spec: Callable[..., Path]) -> None:
    base = hashes(write_spec, SPEC)
    changed = hashes(write_spec, SPEC.replace("max = 0.9", "max = 0.8"))
    assert {name for name in base if base[name] != changed[name]} == {"clean", "tokens", "model"}


def test_version_bump_moves_that_step_and_downstream_only(write_spec: Callable[..., Path]) -> None:
    base = hashes(write_spec, SPEC)
    bumped = hashes(write_spec, SPEC.replace('kind = "train_tokenizer"', 'kind = "train_tokenizer"\nversion = 2'))
    assert {name for name in base if base[name] != bumped[name]} == {"tok", "tokens", "model"}


def test_renaming_an_upstream_step_keeps_downstream_identity(write_spec: Callable[..., Path]) -> None:
    base = hashes(write_spec, SPEC)
    renamed = hashes(write_spec, SPEC.replace("[steps.tok]", "[steps.bpe]").replace('"@tok"', '"@bpe"'))
    assert renamed["bpe"] == base["tok"]
    assert renamed["model"] == base["model"]


def test_a_field_added_later_is_hashed_only_when_set() -> None:
    from typing import ClassVar, Literal

    from lmspec.compiler.identity import fingerprint
    from lmspec.schemas.base import OutputKind, StepBase, added_later

    class Before(StepBase):
        kind: Literal["k"]
        output: ClassVar[OutputKind] = "metrics"
        size: int = 1

    class After(Before):
        experts: int = added_later(default=0, ge=0)

    old = fingerprint(Before(kind="k"), {}, {})
    assert fingerprint(After(kind="k"), {}, {}) == old
    assert fingerprint(After(kind="k", experts=4), {}, {})["config"]["experts"] == 4


def test_keep_fraction_outputs_of_the_old_meaning_are_not_reused() -> None:
    """keep_fraction now takes its share of the documents reaching the rule: its hash says so; min_score's
    does not change."""
    from lmspec.compiler.identity import fingerprint
    from lmspec.schemas.data import Filter

    def rule_of(**rule: object) -> dict[str, object]:
        step = Filter.model_validate({"kind": "filter", "input": "@docs", "rules": [{"kind": "classifier", **rule}]})
        config: dict[str, object] = fingerprint(step, {"docs": "0" * 12}, {})["config"]
        return config["rules"][0]  # type: ignore[index,no-any-return]

    assert rule_of(model="m.bin", keep_fraction=0.1)["keep_fraction_of"] == "documents reaching the rule"
    assert "keep_fraction_of" not in rule_of(model="m.bin", min_score=0.7)
