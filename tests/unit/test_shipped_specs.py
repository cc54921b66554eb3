"""Every spec we ship validates and compiles, carries the editor schema line, and the schema is fresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmspec.compiler import check, compile_spec
from lmspec.schemas.json_schema import SCHEMA_FILES, schema_text
from tests.conftest import REPO

SHIPPED = sorted(
    p for folder in ("specs", "examples") for p in (REPO / folder).rglob("*") if p.suffix in (".toml", ".yaml", ".yml")
)


def test_specs_are_shipped() -> None:
    names = {p.name for p in SHIPPED}
    assert {
        "fasttext-filter-ablation.toml",
        "compression-ratio-sweep.toml",
        "z-loss.toml",
        "cooldown.toml",
        "quickstart.toml",
    } <= names


@pytest.mark.parametrize("spec", SHIPPED, ids=[str(p.relative_to(REPO)) for p in SHIPPED])
def test_shipped_spec_validates_and_compiles(spec: Path) -> None:
    valid = check(spec)
    if valid is None:  # a fragment: only checked through the specs that extend it
        assert spec.parent.name == "base", f"{spec} has no [experiment] table"
        return
    plan = compile_spec(spec, "/runs")
    assert plan.steps
    assert spec.read_text(encoding="utf-8").startswith("#:schema "), "first line must point editors at the schema"


def test_reference_specs_have_the_shapes_they_promise() -> None:
    ablation = compile_spec(REPO / "specs/fasttext-filter-ablation.toml", "/runs")
    trains = [s for s in ablation.steps if s.kind == "train"]
    assert len(trains) == 2
    assert {s.config.model.model_dump_json() for s in trains}.__len__() == 1  # type: ignore[attr-defined]

    sweep = compile_spec(REPO / "specs/compression-ratio-sweep.toml", "/runs")
    assert len([s for s in sweep.steps if s.kind == "filter" and s.config.scores]) == 4  # type: ignore[attr-defined]
    assert sweep.step("filtered_scores").config.mode == "annotate"  # type: ignore[attr-defined]
    assert len([s for s in sweep.steps if s.name == "tokenizer"]) == 1

    zloss = compile_spec(REPO / "specs/z-loss.toml", "/runs")
    assert sorted(s.config.optimizer.z_loss for s in zloss.steps if s.kind == "train") == [0.0, 1e-4]  # type: ignore[attr-defined]

    cooldown = compile_spec(REPO / "specs/cooldown.toml", "/runs").step("cooldown")
    assert cooldown.config.init_from == "@model"  # type: ignore[attr-defined]
    assert set(cooldown.inputs) == {"web_tokens", "code_tokens", "model"}


@pytest.mark.parametrize("variant", sorted(SCHEMA_FILES))
def test_committed_schemas_are_current(variant: str) -> None:
    committed = (REPO / "schemas" / SCHEMA_FILES[variant]).read_text(encoding="utf-8")
    assert committed == schema_text(variant), f"schemas/{SCHEMA_FILES[variant]} is stale: run `lmspec schema`"


def test_schema_marks_execution_only_fields() -> None:
    text = schema_text()
    assert '"identity": false' in text
