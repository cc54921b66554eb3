"""Data steps on real Beam pipelines and real files: filter counts and rules, dedup quality, classifiers, runners.

Ingest formats are in test_data_ingest.py and bad input in test_data_errors.py; both use the helpers here.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pytest

from lmspec.outputs.classifier import Classifier
from lmspec.outputs.documents import Documents, DocumentStats, ShardWriter
from lmspec.runtime.data.dedup import _candidate_pairs, verified
from lmspec.schemas.data import Dedup
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def lmspec_run(spec: Path, root: Path) -> subprocess.CompletedProcess[str]:
    """`lmspec run SPEC --root ROOT` in a subprocess, as a user runs it (the data test files share these helpers)."""
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(root), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def write_spec(folder: Path, body: str) -> Path:
    """`folder/spec.toml`: an experiment named `data` with the given step tables."""
    spec = folder / "spec.toml"
    spec.write_text('[experiment]\nname = "data"\n\n' + body)
    return spec


def step_output(root: Path, step: str) -> Path:
    """The one completed output directory of `step` under `root`."""
    [out] = [p for p in root.glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return out


def step_documents(root: Path, step: str) -> list[dict[str, object]]:
    return [dict(doc) for doc in Documents(step_output(root, step)).read()]


def step_stats(root: Path, step: str) -> DocumentStats:
    return Documents(step_output(root, step)).stats()


def test_filter_counts_per_rule_and_records_scores(tmp_path: Path) -> None:
    good = (
        "The committee met on Tuesday to review the proposal, and after a long discussion that covered the budget, "
        "the schedule and the risks, they agreed with the plan to have the work start in the spring. Several "
        "members asked that the report be shared with the public as soon as possible, so that residents of the "
        "town could see what had been decided and why."
    )
    spam = "the cat sat on the mat and that was that with the dog " * 30  # passes Gopher, compresses to 0.04
    lines = [good, "too short to keep", spam, good.replace("Tuesday", "Friday")]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = write_spec(
        tmp_path,
        """
[steps.docs]
kind = "ingest"
paths = ["d.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "gopher_quality" }, { kind = "compression_ratio", min = 0.1, max = 0.9 }]
""",
    )
    assert lmspec_run(spec, tmp_path / "runs").returncode == 0
    kept = step_documents(tmp_path / "runs", "clean")
    assert [d["text"] for d in kept] == [lines[0], lines[3]]
    assert kept[0]["attributes"]["gopher_quality"] == 65  # type: ignore[index]
    assert 0.6 < kept[0]["attributes"]["compression_ratio"] < 0.62  # type: ignore[index,operator]
    rules = step_stats(tmp_path / "runs", "clean").rules
    assert rules == {
        "0:gopher_quality": {"seen": 4, "kept": 3, "dropped": 1},
        "1:compression_ratio": {"seen": 3, "kept": 2, "dropped": 1},
    }


def _variant(words: list[str], changes: int, rng: random.Random) -> list[str]:
    out = list(words)
    for position in rng.sample(range(len(out)), changes):
        out[position] = f"x{rng.randrange(10**9)}"
    return out


def _shingles(text: str, n: int) -> set[str]:
    """Word n-grams as strings: the brute-force truth, independent of lmspec's hashing."""
    import re

    words = re.findall(r"\w+", text.lower())
    return {" ".join(words[i : i + n]) for i in range(max(1, len(words) - n + 1))}


def _jaccard(a: str, b: str, n: int) -> float:
    sa, sb = _shingles(a, n), _shingles(b, n)
    return len(sa & sb) / len(sa | sb)


def test_minhash_finds_planted_near_duplicates(tmp_path: Path) -> None:
    """Recall and precision >= 0.95 against exact Jaccard by brute force, over a range of similarities."""
    rng = random.Random(7)
    texts = []
    for _ in range(40):
        base = [f"w{rng.randrange(10**9)}" for _ in range(300)]
        texts.append(" ".join(base))
        for changes in rng.sample([1, 2, 3, 4, 6, 10, 20, 40, 80], 3):  # similarities from ~0.98 down to ~0.2
            texts.append(" ".join(_variant(base, changes, rng)))
    rng.shuffle(texts)
    shard = tmp_path / "part-00000-of-00001.jsonl.gz"
    writer = ShardWriter(shard)
    for i, text in enumerate(texts):
        writer.write({"id": str(i), "text": text, "source": "", "metadata": {}, "attributes": {}})
    writer.close()
    spec = Dedup.model_validate({"kind": "dedup", "input": "@docs", "method": "minhash", "jaccard": 0.8, "ngram": 5})
    work = tmp_path / "work"
    candidates, offsets = _candidate_pairs([shard], spec, work)
    found = {(int(a), int(b)) for a, b in verified(candidates, offsets, work, spec)}  # one shard: local indices
    truth = {(i, j) for i, j in combinations(range(len(texts)), 2) if _jaccard(texts[i], texts[j], 5) >= 0.8}
    similarities = sorted(
        _jaccard(texts[i], texts[j], 5)
        for i, j in combinations(range(len(texts)), 2)
        if _jaccard(texts[i], texts[j], 5) > 0.1
    )
    assert len(truth) >= 40, "enough planted pairs above the threshold"
    assert similarities[0] < 0.5, "planted pairs below the threshold too"
    recall = len(found & truth) / len(truth)
    precision = len(found & truth) / max(1, len(found))
    assert recall >= 0.95, (recall, len(truth))
    assert precision >= 0.95, (precision, len(found))


def test_zstd_shards_hold_the_same_documents_as_gzip(tmp_path: Path) -> None:
    lines = ["the first line of text", "hi", "another line that is long enough", "hi"]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    steps = """
[steps.docs]
kind = "ingest"
paths = ["d.jsonl"]
format = "jsonl"
compression = "CODEC"

[steps.unique]
kind = "dedup"
input = "@docs"
method = "exact"
compression = "CODEC"
"""
    outputs = {}
    for codec, suffix, magic in (("gzip", ".jsonl.gz", b"\x1f\x8b"), ("zstd", ".jsonl.zst", b"\x28\xb5\x2f\xfd")):
        root = tmp_path / codec
        done = lmspec_run(write_spec(tmp_path, steps.replace("CODEC", codec)), root)
        assert done.returncode == 0, done.stdout + done.stderr
        for step in ("docs", "unique"):
            [shard] = Documents(step_output(root, step)).shards()
            assert shard.name == f"part-00000-of-00001{suffix}"
            assert shard.read_bytes().startswith(magic)
        outputs[codec] = step_documents(root, "unique")
    assert outputs["zstd"] == outputs["gzip"]
    assert [d["text"] for d in outputs["zstd"]] == ["the first line of text", "hi", "another line that is long enough"]


def test_exact_dedup_keeps_the_first_of_each_normalised_text(tmp_path: Path) -> None:
    lines = ["Hello, World!", "something else", "hello world", "HELLO   world", "something else"]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = write_spec(
        tmp_path,
        """
[steps.docs]
kind = "ingest"
paths = ["d.jsonl"]
format = "jsonl"

[steps.unique]
kind = "dedup"
input = "@docs"
method = "exact"
""",
    )
    assert lmspec_run(spec, tmp_path / "runs").returncode == 0
    assert [d["text"] for d in step_documents(tmp_path / "runs", "unique")] == ["Hello, World!", "something else"]
    assert step_stats(tmp_path / "runs", "unique").counts["duplicates_dropped"] == 3


QUALITY_SPEC = """
[steps.ref]
kind = "ingest"
paths = ["hq.jsonl"]
format = "jsonl"

[steps.web]
kind = "ingest"
paths = ["web.jsonl"]
format = "jsonl"

[steps.english]
kind = "filter"
input = "@web"
rules = [{ kind = "language", keep = ["en"], min_score = 0.5 }]

[steps.quality]
kind = "train_classifier"
positive = ["@ref"]
negative = ["@english"]
epochs = 10
seed = 3

[steps.filtered]
kind = "filter"
input = "@english"
rules = [{ kind = "classifier", model = "@quality", label = "hq", min_score = 0.5 }]

[steps.top]
kind = "filter"
input = "@english"
rules = [{ kind = "classifier", model = "@quality", keep_fraction = 0.2 }]
"""


def _quality_corpus(folder: Path) -> None:
    rng = random.Random(1)
    prose = [
        "the",
        "committee",
        "met",
        "on",
        "tuesday",
        "to",
        "review",
        "the",
        "proposal",
        "and",
        "after",
        "a",
        "long",
        "discussion",
        "that",
        "covered",
        "the",
        "budget",
        "the",
        "schedule",
        "and",
        "the",
        "risks",
        "they",
        "agreed",
        "with",
        "the",
        "plan",
        "to",
        "have",
        "the",
        "work",
        "start",
        "in",
        "the",
        "spring",
    ]
    spam = ["buy", "cheap", "pills", "now", "click", "here", "free", "offer", "winner", "casino", "bonus", "deal"]
    with (folder / "hq.jsonl").open("w") as f:
        for _ in range(200):
            f.write(json.dumps({"text": " ".join(rng.sample(prose, len(prose)))}) + "\n")
    with (folder / "web.jsonl").open("w") as f:
        for i in range(200):
            words = rng.sample(prose, len(prose)) if i % 2 else [rng.choice(spam) for _ in range(40)]
            f.write(json.dumps({"text": " ".join(words), "spam": i % 2 == 0}) + "\n")
        f.write(
            json.dumps({"text": "Ceci est un texte en français qui ne passe pas le filtre de langue anglaise."}) + "\n"
        )


def test_language_filter_classifier_training_and_classifier_filter(tmp_path: Path) -> None:
    _quality_corpus(tmp_path)
    spec = write_spec(tmp_path, QUALITY_SPEC)
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    english = step_documents(tmp_path / "runs", "english")
    assert len(english) == 200
    assert all(d["attributes"]["language"] > 0.5 for d in english)  # type: ignore[index,operator]
    quality = Classifier(step_output(tmp_path / "runs", "quality")).stats()
    assert quality.recall == 1.0
    assert quality.f1 is not None
    assert quality.f1 > 0.6
    kept = step_documents(tmp_path / "runs", "filtered")
    assert kept
    assert not any(d["metadata"]["spam"] for d in kept)  # type: ignore[index]

    top = step_documents(tmp_path / "runs", "top")
    assert len(top) == 40  # the best-scoring 20% of the 200 English documents
    assert step_stats(tmp_path / "runs", "top").rules == {"0:classifier": {"seen": 200, "kept": 40, "dropped": 160}}
    assert not any(d["metadata"]["spam"] for d in top)  # type: ignore[index]

    again = lmspec_run(spec, tmp_path / "again")
    assert again.returncode == 0
    [first] = (tmp_path / "runs").glob("quality-*/model.bin")
    [second] = (tmp_path / "again").glob("quality-*/model.bin")
    assert first.read_bytes() == second.read_bytes(), "the same seed must give the same classifier"


def test_annotate_mode_keeps_every_document_with_scores_and_verdicts(tmp_path: Path) -> None:
    lines = ["short one", "the cat and the dog with that hat " * 10]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = write_spec(
        tmp_path,
        """
[steps.docs]
kind = "ingest"
paths = ["d.jsonl"]
format = "jsonl"

[steps.scored]
kind = "filter"
input = "@docs"
mode = "annotate"
rules = [{ kind = "length", min_words = 5 }, { kind = "regex", pattern = "hat" }, { kind = "regex", pattern = "zzz" }]
""",
    )
    assert lmspec_run(spec, tmp_path / "runs").returncode == 0
    docs = step_documents(tmp_path / "runs", "scored")
    assert [d["text"] for d in docs] == lines
    assert docs[0]["attributes"] == {
        "length": 9,
        "length_keep": False,
        "regex_1": 0.0,
        "regex_1_keep": True,
        "regex_2": 0.0,
        "regex_2_keep": True,
        "keep": False,
    }
    assert docs[1]["attributes"]["regex_1_keep"] is False  # type: ignore[index]
    assert docs[1]["attributes"]["keep"] is False  # type: ignore[index]


def test_filter_on_a_dask_cluster_matches_the_in_process_run(tmp_path: Path) -> None:
    """A real `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped by PID at the end."""
    import os
    import signal
    import socket
    import time

    bin_dir = Path(sys.executable).parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    cluster = [
        subprocess.Popen(
            [str(bin_dir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet
        )
    ]
    try:
        deadline = time.time() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.time() < deadline, "dask scheduler did not start"
            time.sleep(0.2)
        cluster += [
            subprocess.Popen(
                [str(bin_dir / "dask"), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                **quiet,
            )
            for _ in range(2)
        ]
        lines = ["the committee met and agreed with the plan that was put to the vote " * 5, "short", "x " * 200]
        for i in range(4):
            (tmp_path / f"d{i}.jsonl").write_text("".join(json.dumps({"text": f"{t} {i}"}) + "\n" for t in lines))
        body = """
[steps.docs]
kind = "ingest"
paths = ["d*.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "gopher_quality", min_words = 10 }, { kind = "compression_ratio", min = 0.05, max = 0.9 }]
"""
        local = lmspec_run(write_spec(tmp_path, body), tmp_path / "local")
        assert local.returncode == 0, local.stdout
        options = f'dask_client_address = "{address}", dask_npartitions = 2'
        runner = f'runner = {{ name = "DaskRunner", options = {{ {options} }} }}\n'
        on_dask = lmspec_run(write_spec(tmp_path, body + runner), tmp_path / "dask")
        assert on_dask.returncode == 0, on_dask.stdout
        [local_out] = (tmp_path / "local").glob("clean-*/_SUCCESS")
        [dask_out] = (tmp_path / "dask").glob("clean-*/_SUCCESS")
        assert local_out.parent.name == dask_out.parent.name, "the runner is execution-only: same identity"
        local_shards, dask_shards = Documents(local_out.parent).shards(), Documents(dask_out.parent).shards()
        assert len(local_shards) == 4
        assert [p.read_bytes() for p in local_shards] == [p.read_bytes() for p in dask_shards]
        assert step_stats(tmp_path / "dask", "clean").documents_out == 4
    finally:
        for process in reversed(cluster):
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_classifier_rule_takes_a_model_file(tmp_path: Path) -> None:
    """A classifier trained elsewhere (here: by an earlier lmspec run), used by its file path."""
    import shutil

    _quality_corpus(tmp_path)
    assert lmspec_run(write_spec(tmp_path, QUALITY_SPEC), tmp_path / "first").returncode == 0
    [trained] = (tmp_path / "first").glob("quality-*/model.bin")
    shutil.copy(trained, tmp_path / "quality.bin")
    spec = write_spec(
        tmp_path,
        """
[steps.web]
kind = "ingest"
paths = ["web.jsonl"]
format = "jsonl"

[steps.kept]
kind = "filter"
input = "@web"
rules = [{ kind = "classifier", model = "quality.bin", label = "hq", min_score = 0.5 }]
""",
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    kept = step_documents(tmp_path / "runs", "kept")
    assert kept
    assert not any(d["metadata"].get("spam") for d in kept)  # type: ignore[attr-defined]


def test_train_classifier_from_jsonl_files(tmp_path: Path) -> None:
    _quality_corpus(tmp_path)
    spec = write_spec(
        tmp_path,
        """
[steps.quality]
kind = "train_classifier"
positive = ["hq.jsonl"]
negative = ["web*.jsonl"]
epochs = 10
""",
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    stats = Classifier(step_output(tmp_path / "runs", "quality")).stats()
    assert (stats.positive, stats.negative) == (200, 201)
    assert stats.recall == 1.0
