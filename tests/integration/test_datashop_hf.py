"""`llm_label` with a local Hugging Face model directory: a tiny random-weight Llama and its tokenizer, saved
here as `save_pretrained` saves them, scored with transformers on PyTorch (CPU here); a directory without a
tokenizer is refused before the model loads."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from examples.datashop_data import write_hf_labeller
from examples.quickstart_data import english_paragraphs, junk_pages, write_jsonl
from lmspec.runtime.data.llm_scoring import HuggingFaceBackend, Labeller
from lmspec.schemas.labels import ExpectedScore, YesProbability
from tests.integration.test_data_steps import lmspec_run, step_documents, write_spec

pytestmark = pytest.mark.integration

TEXTS = english_paragraphs()[:10] + [text for _, text in junk_pages(random.Random(1), 10)]
STEPS = """
[steps.pool]
kind = "ingest"
paths = ["pool.jsonl"]
format = "jsonl"

[steps.labels]
kind = "llm_label"
input = "@pool"
model = "labeller"
prompt = "ask_llm"
batch_size = 4
"""


def test_a_model_directory_without_a_tokenizer_is_refused_before_it_loads(tmp_path: Path) -> None:
    folder = write_hf_labeller(tmp_path / "labeller", TEXTS)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()
    write_jsonl(tmp_path / "pool.jsonl", TEXTS)
    done = lmspec_run(write_spec(tmp_path, STEPS), tmp_path / "runs")
    assert done.returncode == 1
    assert "holds no tokenizer" in done.stdout + done.stderr
    assert "tokenizer.save_pretrained" in done.stdout + done.stderr


def test_hugging_face_labels_are_deterministic_and_do_not_depend_on_the_batch(tmp_path: Path) -> None:
    folder = write_hf_labeller(tmp_path / "labeller", TEXTS)
    yes = YesProbability(kind="yes_probability")
    one = Labeller(HuggingFaceBackend(folder, batch_size=1), "ask_llm", yes, 2000).label_texts(TEXTS)
    many = Labeller(HuggingFaceBackend(folder, batch_size=16), "ask_llm", yes, 2000).label_texts(TEXTS)
    again = Labeller(HuggingFaceBackend(folder, batch_size=16), "ask_llm", yes, 2000).label_texts(TEXTS)
    assert max(abs(a.value - b.value) for a, b in zip(one, many, strict=True)) < 1e-5
    assert many == again
    assert all(0.0 < a.value < 1.0 for a in one)
    score = ExpectedScore(kind="score")
    single = Labeller(HuggingFaceBackend(folder, batch_size=8), "fineweb_edu", score, 2000).label_texts(TEXTS)
    assert all(0.0 <= s.value <= 5.0 for s in single)
    decimals = ExpectedScore(kind="score", choices=["1.5", "2.5", "3.5"])  # answers of several tokens: a row each
    labeller = Labeller(HuggingFaceBackend(folder, batch_size=3), "fineweb_edu", decimals, 2000)
    assert any(len(answer) > 1 for answer in labeller.answers)
    rows = labeller.label_texts(TEXTS)
    batched = Labeller(HuggingFaceBackend(folder, batch_size=20), "fineweb_edu", decimals, 2000).label_texts(TEXTS)
    assert max(abs(a.value - b.value) for a, b in zip(rows, batched, strict=True)) < 1e-4


def test_lmspec_run_labels_with_a_hugging_face_directory(tmp_path: Path) -> None:
    write_hf_labeller(tmp_path / "labeller", TEXTS)
    write_jsonl(tmp_path / "pool.jsonl", TEXTS)
    done = lmspec_run(write_spec(tmp_path, STEPS), tmp_path / "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    labelled = step_documents(tmp_path / "runs", "labels")
    assert len(labelled) == len(TEXTS)
    assert all(0.0 < doc["attributes"]["llm_label"] < 1.0 for doc in labelled)  # type: ignore[index]
