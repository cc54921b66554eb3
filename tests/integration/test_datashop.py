"""`llm_label` with a real MaxText labeller, trained here to answer yes to good text and no to junk (the
datashop example's stand-in for an instruction-tuned model), then distilled into a fastText classifier."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from examples.datashop_data import PROMPT, lessons
from examples.quickstart_data import english_paragraphs, junk_pages, write_jsonl
from lmspec.catalog import Catalog
from lmspec.outputs.documents import Documents
from lmspec.runtime.data.llm_scoring import Labeller, MaxTextBackend
from lmspec.schemas.labels import ExpectedScore, YesProbability
from tests.conftest import REPO
from tests.integration.test_data_steps import step_output

pytestmark = pytest.mark.integration

SPEC = f"""
[experiment]
name = "datashop"

[steps.lessons]
kind = "ingest"
paths = ["lessons.jsonl"]
format = "jsonl"

[steps.lesson_tok]
kind = "train_tokenizer"
input = "@lessons"
vocab_size = 1024

[steps.lesson_tokens]
kind = "tokenize"
input = "@lessons"
tokenizer = "@lesson_tok"
validation_fraction = 0.02

[steps.labeller]
kind = "train"
data = "@lesson_tokens"
model = {{ preset = "tiny" }}
optimizer = {{ lr = 3e-3, weight_decay = 0.1 }}
schedule = {{ kind = "cosine", warmup_steps = 20 }}
steps = 300
batch_size = 8

[steps.pool]
kind = "ingest"
paths = ["pool/*.jsonl"]
format = "jsonl"
id_field = "id"

[steps.labels]
kind = "llm_label"
input = "@pool"
model = "@labeller"
prompt = {json.dumps(PROMPT)}
max_chars = 200
batch_size = 16

[steps.quality]
kind = "train_classifier"
input = "@labels"
label = {{ attribute = "llm_label", threshold = 0.5 }}
validation_fraction = 0.3
"""
GOOD, JUNK = 120, 120
"""Planted pool documents of each kind, none of them seen in the lessons."""


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("CI", None)
    return env


def _command(folder: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "lmspec.cli",
        "run",
        str(folder / "spec.toml"),
        "--root",
        str(folder / "runs"),
        "--quiet",
        *args,
    ]


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(folder, *args), capture_output=True, text=True, check=False, env=_env(), timeout=900)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The labeller trained on 300 good and 300 junk lessons; the pool labelled and distilled, in 4 shards."""
    folder = tmp_path_factory.mktemp("datashop")
    rng = random.Random(11)
    paragraphs = english_paragraphs()
    write_jsonl(folder / "lessons.jsonl", lessons(paragraphs[:300], [t for _, t in junk_pages(rng, 300)]))
    pool = [(f"good{i}", t) for i, t in enumerate(paragraphs[400 : 400 + GOOD])]
    pool += [(f"junk{i}", t) for i, (_, t) in enumerate(junk_pages(random.Random(99), JUNK))]
    pool.append(("empty", "   "))
    rng.shuffle(pool)
    (folder / "pool").mkdir()
    for shard in range(4):
        rows = [{"id": i, "text": t} for n, (i, t) in enumerate(pool) if n % 4 == shard]
        (folder / "pool" / f"{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "spec.toml").write_text(SPEC)
    done = _run(folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _labels(root: Path) -> dict[str, float]:
    return {doc["id"]: doc["attributes"]["llm_label"] for doc in Documents(step_output(root, "labels")).read()}


def test_the_labeller_says_yes_to_good_documents_and_no_to_junk(shop: Path) -> None:
    labels = _labels(shop / "runs")
    good = [v for k, v in labels.items() if k.startswith("good")]
    junk = [v for k, v in labels.items() if k.startswith("junk")]
    assert (len(good), len(junk)) == (GOOD, JUNK)  # the empty document is dropped
    assert sum(good) / GOOD > sum(junk) / JUNK + 0.4
    assert sum(v > 0.5 for v in good) >= 0.9 * GOOD
    assert sum(v < 0.5 for v in junk) >= 0.9 * JUNK
    stats = Documents(step_output(shop / "runs", "labels")).stats()
    assert stats.counts["empty"] == 1
    assert 0 < stats.counts["truncated"] < GOOD + JUNK  # manual paragraphs past 200 characters
    histogram = {k: v for k, v in stats.counts.items() if k.startswith("llm_label_")}
    assert len(histogram) == 10
    assert sum(histogram.values()) == GOOD + JUNK
    assert histogram["llm_label_0.90-1.00"] + histogram["llm_label_0.00-0.10"] > 0


def test_batching_gives_the_scores_of_one_document_at_a_time(shop: Path) -> None:
    texts = [doc["text"] for doc in Documents(step_output(shop / "runs", "labels")).read()][:16]
    model = step_output(shop / "runs", "labeller")
    label = YesProbability(kind="yes_probability")
    one = Labeller(MaxTextBackend(model, batch_size=1), PROMPT, label, 200).label_texts(texts)
    assert len({round(a.value, 6) for a in one}) > 1
    for size in (5, 16):  # 5: the last batch is padded with empty rows
        many = Labeller(MaxTextBackend(model, batch_size=size), PROMPT, label, 200).label_texts(texts)
        assert max(abs(a.value - b.value) for a, b in zip(one, many, strict=True)) < 1e-5


def test_answers_read_from_one_row_per_document_are_the_answers_scored_whole(shop: Path) -> None:
    """The labeller's forward pass reads every answer from the rows `AnswerPlan` picks; evaluation's scorer
    runs each prompt + answer on its own and sums the answer's tokens: the same log-probabilities."""
    texts = [doc["text"] for doc in Documents(step_output(shop / "runs", "labels")).read()][:6]
    backend = MaxTextBackend(step_output(shop / "runs", "labeller"), batch_size=4)
    score = ExpectedScore(kind="score", choices=["0", "1", "2", "3", "4", "5"])
    labeller = Labeller(backend, "Text: {text}\nScore:", score, 200)
    prompts = [
        labeller.before + backend.tokenizer.encode(text[:200], add_special_tokens=False) + labeller.after
        for text in texts
    ]
    for answers in (labeller.answers, [[5, 6, 7], [5, 8, 3], [9]]):  # one row; two rows
        read = backend.answer_logprobs(prompts, answers)
        whole = [[s.logprob for s in backend.score([(p + a, len(a)) for a in answers])] for p in prompts]
        assert np.allclose(read, whole, atol=1e-5), (read, whole)


def test_the_distilled_classifier_agrees_with_the_llm_labels_on_held_out_documents(shop: Path) -> None:
    root = shop / "runs"
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=False)
    record = catalog.find(str(step_output(root, "quality")))
    assert record is not None
    assert record.metrics["f1"] >= 0.85
    assert record.metrics["agreement"] >= 0.85
    assert record.counts["validation"] >= 60


def test_a_killed_labelling_run_resumes_without_relabelling_finished_shards(shop: Path) -> None:
    before = {p.name: p.read_bytes() for p in Documents(step_output(shop / "runs", "labels")).shards()}
    process = subprocess.Popen(
        _command(shop, "--force", "labels", "--only", "labels"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    finished: list[Path] = []
    while not finished:
        assert process.poll() is None, "labelling ended before a shard was finished"
        assert time.time() < deadline, "labelling stalled"
        finished = [p for p in (shop / "runs").glob("labels-*.resume/shards/part-*") if p.is_dir()]
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    kept = {p.name: (p / p.name).stat().st_ino for p in finished}
    assert len(kept) < 4, "the kill came too late to test resuming"
    done = _run(shop, "--only", "labels")
    assert done.returncode == 0, done.stdout + done.stderr
    out = step_output(shop / "runs", "labels")
    assert {name: (out / name).stat().st_ino for name in kept} == kept  # the same files: not labelled again
    assert Documents(out).stats().counts["shards_resumed"] == len(kept)
    assert {p.name: p.read_bytes() for p in Documents(out).shards()} == before  # labels are deterministic
