"""Datashop steps that need no language model, on real Beam pipelines: `sample`, `keep_fraction` over the
documents that reach its rule, and threshold sweeps that share one scoring pass."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from examples.quickstart_data import english_paragraphs, junk_pages, write_jsonl
from lmspec.compiler import compile_spec
from lmspec.outputs.documents import Documents
from tests.integration.test_data_steps import lmspec_run, step_documents, step_output, step_stats, write_spec

pytestmark = pytest.mark.integration


def _shards(folder: Path, texts: list[str], count: int) -> None:
    """`texts` as `count` JSONL files (one input shard each), with ids of their own."""
    for shard in range(count):
        rows = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts) if i % count == shard]
        (folder / f"part{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


INGEST = """
[steps.docs]
kind = "ingest"
paths = ["part*.jsonl"]
format = "jsonl"
id_field = "id"
"""


def test_sample_draws_the_same_documents_whatever_the_sharding(tmp_path: Path) -> None:
    texts = [f"document number {i} with some words" for i in range(200)]
    sample = '\n[steps.drawn]\nkind = "sample"\ninput = "@docs"\ncount = 30\nseed = 7\n'
    sample += '\n[steps.part]\nkind = "sample"\ninput = "@docs"\nfraction = 0.25\nseed = 7\n'
    drawn: dict[int, tuple[set[str], set[str]]] = {}
    for shards in (1, 3):
        folder = tmp_path / f"s{shards}"
        folder.mkdir()
        _shards(folder, texts, shards)
        done = lmspec_run(write_spec(folder, INGEST + sample), folder / "runs")
        assert done.returncode == 0, done.stderr
        ids = [{str(d["id"]) for d in step_documents(folder / "runs", step)} for step in ("drawn", "part")]
        drawn[shards] = (ids[0], ids[1])
    assert len(drawn[1][0]) == 30
    assert drawn[1] == drawn[3]
    assert 30 < len(drawn[1][1]) < 70  # about a quarter of 200
    other_seed = compile_spec(write_spec(tmp_path, INGEST + sample.replace("seed = 7", "seed = 8")), "/r")
    assert other_seed.step("drawn").hash != compile_spec(tmp_path / "s1" / "spec.toml", "/r").step("drawn").hash


def test_keep_fraction_is_a_share_of_the_documents_reaching_the_rule(tmp_path: Path) -> None:
    """The issue's case: 21 documents pass the rules before it; keep_fraction = 0.5 keeps 10 or 11 of them."""
    rng = random.Random(3)
    good = english_paragraphs()[:60]
    texts = good[:21] + [" ".join(rng.choice(["ab", "cd"]) for _ in range(5)) for _ in range(40)]
    _shards(tmp_path, texts, 2)
    write_jsonl(tmp_path / "pos.jsonl", good[21:60])
    write_jsonl(tmp_path / "neg.jsonl", [text for _, text in junk_pages(rng, 40)])
    body = (
        INGEST
        + """
[steps.quality]
kind = "train_classifier"
positive = ["pos.jsonl"]
negative = ["neg.jsonl"]

[steps.kept]
kind = "filter"
input = "@docs"
rules = [{ kind = "length", min_words = 10 }, { kind = "classifier", model = "@quality", keep_fraction = 0.5 }]
"""
    )
    done = lmspec_run(write_spec(tmp_path, body), tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    rules = step_stats(tmp_path / "runs", "kept").rules
    assert rules["1:classifier"]["seen"] == 21
    assert rules["1:classifier"]["kept"] in (10, 11)


SWEEP = """
[steps.quality]
kind = "train_classifier"
positive = ["pos.jsonl"]
negative = ["neg.jsonl"]

[steps.clean]
kind = "filter"
input = "@docs"
rules = [
  { kind = "length", min_words = 5 },
  { kind = "compression_ratio", min = 0.05, max = 0.9 },
  { kind = "classifier", model = "@quality", keep_fraction = 0.5 },
  { kind = "gopher_repetition" },
]
"""


def test_a_threshold_sweep_scores_once_and_selects_what_each_filter_would_keep(tmp_path: Path) -> None:
    rng = random.Random(5)
    junk = [text for _, text in junk_pages(rng, 60)]
    texts = english_paragraphs()[:120] + junk + ["", "short one", "word " * 100]
    rng.shuffle(texts)
    _shards(tmp_path, texts, 3)
    write_jsonl(tmp_path / "pos.jsonl", english_paragraphs()[200:260])
    write_jsonl(tmp_path / "neg.jsonl", [text for _, text in junk_pages(rng, 60)])
    sweep = '\n[sweep]\n"steps.clean.rules.1.max" = [0.5, 0.9]\n"steps.clean.rules.2.keep_fraction" = [0.3, 0.8]\n'
    spec = write_spec(tmp_path, INGEST + SWEEP + sweep)
    plan = compile_spec(spec, str(tmp_path / "shared"))
    points = [s for s in plan.steps if s.name.startswith("clean_max")]
    assert len(points) == 4
    assert all(s.inputs == ("docs", "quality", "clean_scores") for s in points)
    assert plan.step("clean_scores").config.mode == "annotate"  # type: ignore[attr-defined]
    done = lmspec_run(spec, tmp_path / "shared")
    assert done.returncode == 0, done.stderr
    kept = {len(list(Documents(step_output(tmp_path / "shared", p.name)).read())) for p in points}
    assert len(kept) == 4, "each point cuts elsewhere"
    for point in points:
        rules = point.config.rules  # type: ignore[attr-defined]
        single = SWEEP.replace("max = 0.9", f"max = {rules[1].max}").replace(
            "keep_fraction = 0.5", f"keep_fraction = {rules[2].keep_fraction}"
        )
        single_spec = tmp_path / f"{point.name}.toml"  # beside the data: documents record their source file
        single_spec.write_text('[experiment]\nname = "data"\n' + INGEST + single)
        assert compile_spec(single_spec, "/r").step("clean").hash == point.hash  # the same step, by identity
        done = lmspec_run(single_spec, tmp_path / point.name)
        assert done.returncode == 0, done.stderr
        shared_out, alone_out = (
            step_output(tmp_path / "shared", point.name),
            step_output(tmp_path / point.name, "clean"),
        )
        shared_docs = list(Documents(shared_out).read())
        assert shared_docs == list(Documents(alone_out).read())
        assert 0 < len(shared_docs) < len(texts)
        assert [p.read_bytes() for p in Documents(shared_out).shards()] == [
            p.read_bytes() for p in Documents(alone_out).shards()
        ]
        assert Documents(shared_out).stats().rules == Documents(alone_out).stats().rules
