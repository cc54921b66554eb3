"""Evaluation breadth end to end, offline, on data made here: two tiny models (120 and 40 steps) trained on
documents that each draw their words from their own small subset of a vocabulary (so context tells which
words come next), a multiple-choice task saved as a local dataset and run 5-shot, strided perplexity, the
report with paired tests, the Hugging Face export, and W&B offline logging."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from examples.quickstart_data import write_jsonl
from lmspec.catalog import Catalog
from lmspec.compiler import compile_spec
from lmspec.outputs.metrics import Metrics
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORDS = [f"w{i}" for i in range(50)]
SUBSET = 5
DOCUMENT_WORDS = 96

EVALUATE = """
[steps.{name}]
kind = "evaluate"
model = "@{model}"
perplexity = ["@tokens", {{ data = "@tokens", window = 128, stride = 128 }}, {{ data = "@tokens", window = 16 }},
              {{ data = "@tokens", window = 16, stride = 2 }}]
lm_eval = {{ tasks = [{{ name = "context_mc", num_fewshot = 5 }}], include_path = "tasks" }}
"""

TRAIN = """
[steps.{name}]
kind = "train"
data = "@tokens"
model = {{ preset = "tiny" }}
optimizer = {{ lr = 3e-3, weight_decay = 0.1 }}
schedule = {{ kind = "cosine", warmup_steps = 10 }}
steps = {steps}
eval_every = 20
batch_size = 8
"""

SPEC = (
    """
[experiment]
name = "eval-breadth"
description = "Does training longer teach a tiny model to use its context? Two lengths, the same held-out text."
issue = "https://github.com/lmspec/lmspec/issues/15"
wandb = { project = "lmspec-tests" }

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 512

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"
validation_fraction = 0.05
"""
    + TRAIN.format(name="model", steps=120)
    + TRAIN.format(name="short", steps=40)
    + EVALUATE.format(name="eval", model="model")
    + EVALUATE.format(name="eval_short", model="short")
)

TASK = """task: context_mc
dataset_path: lmspec-tests/context_mc
output_type: multiple_choice
training_split: train
test_split: test
fewshot_split: train
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{gold}}"
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


def document(rng: random.Random, words: int = DOCUMENT_WORDS) -> str:
    """Words drawn from the document's own SUBSET of WORDS: after a few words, the context says which follow."""
    subset = rng.sample(WORDS, SUBSET)
    return " ".join(rng.choice(subset) for _ in range(words))


def context_question(rng: random.Random) -> dict[str, object]:
    """A document's start; the answer is one of its words, the other choices are words it never uses."""
    context = document(rng, 24).split()
    answer = rng.choice(context)
    choices = [answer, *rng.sample([w for w in WORDS if w not in context], 3)]
    rng.shuffle(choices)
    return {"context": " ".join(context), "choices": choices, "gold": choices.index(answer)}


def _lmspec(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    env.update(LMSPEC_EVAL_DATA=str(folder / "evaldata"))
    env.pop("CI", None)
    command = [sys.executable, "-m", "lmspec.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=1200, check=False, cwd=folder)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import datasets

    folder = tmp_path_factory.mktemp("eval-breadth")
    rng = random.Random(0)
    write_jsonl(folder / "data" / "documents.jsonl", [document(rng) for _ in range(1500)])
    (folder / "tasks").mkdir()
    (folder / "tasks" / "context_mc.yaml").write_text(TASK)
    splits = {"train": [context_question(rng) for _ in range(20)], "test": [context_question(rng) for _ in range(40)]}
    saved = datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})
    saved.save_to_disk(str(folder / "evaldata" / "lmspec-tests" / "context_mc"))
    (folder / "spec.toml").write_text(SPEC)
    done = _lmspec(folder, "run", "spec.toml", "--root", "runs", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _output(folder: Path, step: str) -> Path:
    [path] = [p for p in (folder / "runs").glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return path


def test_a_local_dataset_runs_as_a_5_shot_lm_eval_task_offline(workspace: Path) -> None:
    output = Metrics(_output(workspace, "eval"))
    report = output.lm_eval()
    assert report["n-shot"]["context_mc"] == 5
    metrics = output.results().metrics
    assert 0.0 <= metrics["context_mc/acc"] <= 1.0
    assert metrics["context_mc/acc_stderr"] > 0.0
    items = output.items("context_mc")
    assert items is not None
    assert len(items) == 40
    assert sum(scores["acc"] for scores in items.values()) / 40 == pytest.approx(metrics["context_mc/acc"])


def test_strided_perplexity(workspace: Path) -> None:
    metrics = Metrics(_output(workspace, "eval")).results().metrics
    # stride = window is the disjoint windows "@tokens" always used: the same windows, the same numbers
    assert metrics["tokens_w128_s128/bits_per_byte"] == metrics["tokens/bits_per_byte"]
    # A document's words come from its own 5-word subset: with stride 2 every token sees at least 14 words
    # before it, enough to know the subset; in disjoint 16-token windows the first tokens of each window do not.
    assert metrics["tokens_w16_s2/bits_per_byte"] < metrics["tokens_w16/bits_per_byte"] - 0.05
    for name in ("tokens", "tokens_w16", "tokens_w16_s2"):
        assert 0.0 < metrics[f"{name}/bits_per_byte_stderr"] < 0.2 * metrics[f"{name}/bits_per_byte"]
        assert metrics[f"{name}/perplexity_stderr"] > 0.0


def test_report_compares_the_variants_for_a_pull_request(workspace: Path) -> None:
    done = _lmspec(workspace, "report", "spec.toml", "--root", "runs", "--format", "markdown", "--output", "report")
    assert done.returncode == 0, done.stderr
    markdown = done.stdout
    assert markdown == (workspace / "report" / "report.md").read_text()
    assert markdown.startswith("# eval-breadth\n\nDoes training longer teach a tiny model to use its context?")
    assert "Issue: https://github.com/lmspec/lmspec/issues/15" in markdown
    [eval_row] = [line for line in markdown.splitlines() if line.startswith("| eval | model |")]
    assert eval_row.count(" ± ") == 9  # bits-per-byte and perplexity of 4 sets, context_mc's accuracy
    comparisons = [line for line in markdown.splitlines() if line.startswith(("| tokens", "| context_mc"))]
    assert any("| tokens/bits_per_byte | eval | eval_short |" in line for line in comparisons)
    assert all(line.count(" | ") == 7 for line in comparisons)  # metric, A, B, A - B ± stderr, p, Holm, test, verdict
    verdicts = {line.rsplit(" | ", 1)[1].strip(" |") for line in comparisons}
    assert verdicts <= {"eval better", "eval_short better", "not significant"}
    [bits] = [line for line in comparisons if line.startswith("| tokens/bits_per_byte |")]
    assert bits.endswith("| eval better |")  # 120 steps beat 40 on the same documents, beyond noise
    assert "| model | @model | @short |" in markdown
    assert "| model.steps | 120 | 40 |" in markdown
    page = (workspace / "report" / "report.html").read_text()
    assert "<a href='https://github.com/lmspec/lmspec/issues/15'>" in page
    assert "<td>model.steps</td><td>120</td><td>40</td>" in page
    assert (workspace / "report" / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    catalog = Catalog(f"sqlite:///{workspace / 'runs' / 'catalog.sqlite'}").open(create=False)
    curves = catalog.series(str(_output(workspace, "model")))
    assert len(curves["loss"]) == 120
    assert len(curves["eval_loss"]) >= 5


def test_export_loads_in_transformers_with_maxtexts_logits(workspace: Path) -> None:
    import jax.numpy as jnp
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from lmspec.runtime.evaluation.model import MaxTextScorer

    done = _lmspec(workspace, "export", "model", "hf-model", "--root", "runs", "--format", "hf")
    assert done.returncode == 0, done.stdout + done.stderr
    exported = workspace / "hf-model"
    assert {"model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in exported.iterdir()
    }
    model = AutoModelForCausalLM.from_pretrained(str(exported))
    tokenizer = AutoTokenizer.from_pretrained(str(exported))
    ids = [tokenizer.bos_token_id, *tokenizer.encode(document(random.Random(9), 60), add_special_tokens=False)]
    with torch.no_grad():
        hf_logits = model(torch.tensor([ids])).logits[0].numpy()
    maxtext = MaxTextScorer(_output(workspace, "model"), batch_size=1)._model
    tokens = jnp.asarray([ids], dtype=jnp.int32)
    positions = jnp.arange(len(ids), dtype=jnp.int32)[None]
    logits = maxtext(
        decoder_input_tokens=tokens, decoder_positions=positions, decoder_segment_ids=jnp.ones_like(tokens)
    )
    assert np.abs(np.asarray(logits, dtype=np.float32)[0] - hf_logits).max() < 1e-4  # float32 on CPU


def test_lm_evals_own_hf_model_runs_on_the_export(workspace: Path) -> None:
    import lm_eval

    from lmspec.runtime.evaluation import harness

    exported = workspace / "hf-model"
    if not exported.is_dir():
        assert _lmspec(workspace, "export", "model", "hf-model", "--root", "runs").returncode == 0
    config = compile_spec(workspace / "spec.toml", str(workspace / "runs")).step("eval").config.lm_eval  # type: ignore[attr-defined]
    os.environ["LMSPEC_EVAL_DATA"] = str(workspace / "evaldata")
    prepared = harness.prepare(config, [str(workspace / "tasks")], lambda p: workspace / p)
    output = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={exported},dtype=float32,add_bos_token=True",
        tasks=prepared.built,
        task_manager=prepared.manager,
        device="cpu",
        batch_size=8,
    )
    lmspec_acc = Metrics(_output(workspace, "eval")).results().metrics["context_mc/acc"]
    # The same model and prompts; a barely trained model scores some choices within float noise of each
    # other, so one of the 40 answers may fall the other way.
    assert abs(output["results"]["context_mc"]["acc,none"] - lmspec_acc) <= 1 / 40 + 1e-9


def test_wandb_offline_run_holds_the_curves_and_the_evaluation(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lmspec.runtime.wandb_log import log_experiment

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    plan = compile_spec(workspace / "spec.toml", str(workspace / "runs"))
    catalog = Catalog(f"sqlite:///{workspace / 'runs' / 'catalog.sqlite'}").open(create=False)
    ids = log_experiment(plan, workspace / "spec.toml", catalog, ran={s.name for s in plan.steps})
    assert [i.rsplit("-", 1)[0] for i in ids] == ["eval-breadth-model", "eval-breadth-short"]
    [run_file] = (workspace / "runs" / "wandb").glob(f"offline-run-*-{ids[0]}/run-{ids[0]}.wandb")
    history, summary = _wandb_records(run_file)
    assert [row["train/step"] for row in history] == list(range(120))
    assert history[-1]["train/loss"] < history[0]["train/loss"]
    expected = Metrics(_output(workspace, "eval")).results().metrics["tokens/bits_per_byte"]
    assert summary["eval/tokens/bits_per_byte"] == pytest.approx(expected)
    assert (run_file.parent / "files" / "spec.toml").read_text() == (workspace / "spec.toml").read_text()


HEADER, BLOCK, FULL, LAST = 7, 32768, 1, 4


def _wandb_records(path: Path) -> tuple[list[dict[str, float]], dict[str, float]]:
    """History rows and the last summary of an offline W&B run file: a LevelDB-style log of `Record` protos
    (7-byte header, 32 KiB blocks of [crc32, length, type] chunks), read here as W&B's own reader does."""
    from wandb.proto import wandb_internal_pb2

    data, position = path.read_bytes(), HEADER
    records, pending = [], b""
    while position + HEADER <= len(data):
        left = BLOCK - position % BLOCK
        if left < HEADER:  # a block's tail too short for a chunk header is padding
            position += left
            continue
        length, kind = struct.unpack_from("<HB", data, position + 4)
        pending += data[position + HEADER : position + HEADER + length]
        position += HEADER + length
        if kind in (FULL, LAST):
            records.append(wandb_internal_pb2.Record.FromString(pending))
            pending = b""
    history = [
        {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in r.history.item}
        for r in records
        if r.WhichOneof("record_type") == "history"
    ]
    summary: dict[str, float] = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            summary.update({i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.summary.update})
    return [row for row in history if "train/step" in row], summary
