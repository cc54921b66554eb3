"""Data steps on real Beam pipelines and real files: formats, bad input, filter counts, dedup quality."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from lmspec.outputs.documents import ShardWriter, read_documents, shards
from lmspec.runtime.data.dedup import _candidate_pairs, verified
from tests.conftest import REPO

pytestmark = pytest.mark.integration


def _run(spec: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "run", str(spec), "--root", str(root), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def _spec(folder: Path, body: str) -> Path:
    spec = folder / "spec.toml"
    spec.write_text('[experiment]\nname = "data"\n\n' + body)
    return spec


def _output(root: Path, step: str) -> Path:
    [out] = [p for p in root.glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return out


def _documents(root: Path, step: str) -> list[dict[str, object]]:
    return [dict(doc) for shard in shards(_output(root, step)) for doc in read_documents(shard)]


def _stats(root: Path, step: str) -> dict[str, object]:
    return dict(json.loads((_output(root, step) / "stats.json").read_text()))


def test_ingest_reads_every_format_into_ordered_shards(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "one", "url": "u1"}\n{"text": "two", "doc": "d2"}\n')
    with gzip.open(data / "b.jsonl.gz", "wt") as f:
        f.write('{"text": "three"}\n')
    (data / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "four"}\n'))
    pq.write_table(pa.table({"content": ["five", "six"], "n": [5, 6]}), data / "d.parquet")
    (data / "e.txt").write_text("a whole\nfile\n")
    spec = _spec(
        tmp_path,
        """
[steps.lines]
kind = "ingest"
paths = ["data/*.jsonl*"]
format = "jsonl"
id_field = "doc"

[steps.table]
kind = "ingest"
paths = ["data/d.parquet"]
format = "parquet"
text_field = "content"

[steps.files]
kind = "ingest"
paths = ["data/*.txt"]
format = "text"
""",
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = _documents(tmp_path / "runs", "lines")
    assert [d["text"] for d in lines] == ["one", "two", "three", "four"]
    assert [d["id"] for d in lines] == ["a.jsonl:1", "d2", "b.jsonl.gz:1", "c.jsonl.zst:1"]
    assert lines[0]["metadata"] == {"url": "u1"}
    assert set(lines[0]) == {"id", "text", "source", "metadata", "attributes"}
    table = _documents(tmp_path / "runs", "table")
    assert [(d["text"], d["metadata"]) for d in table] == [("five", {"n": 5}), ("six", {"n": 6})]
    assert _documents(tmp_path / "runs", "files")[0]["text"] == "a whole\nfile\n"
    stats = _stats(tmp_path / "runs", "lines")
    assert (stats["files_in"], stats["documents_out"], stats["shards"], stats["skipped"]) == (3, 4, 3, 0)


BAD_INPUTS = [
    ("truncated-gzip", "bad.jsonl.gz", gzip.compress(b'{"text": "a"}\n' * 500)[:-40], "truncated or corrupt"),
    ("invalid-json", "bad.jsonl", b'{"text": "ok"}\n{"text": oops}\n', "bad.jsonl:2: invalid JSON"),
    ("not-utf8", "bad.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', "bad.jsonl:2: not UTF-8"),
    ("missing-text-field", "bad.jsonl", b'{"body": "x"}\n', "bad.jsonl:1: field `text` is missing"),
]


@pytest.mark.parametrize(("name", "content", "message"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_naming_file_and_line(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    spec = _spec(tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = ["{name}"]\nformat = "jsonl"\n')
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert message in result.stdout
    assert "FAILED docs" in result.stdout


def test_on_error_skip_counts_every_skipped_record(tmp_path: Path) -> None:
    (tmp_path / "mixed.jsonl").write_bytes(
        b'{"text": "good one"}\n{"text": nope}\n{"text": "caf\xe9"}\n{"text": "good two"}\n'
    )
    spec = _spec(
        tmp_path, '[steps.docs]\nkind = "ingest"\npaths = ["mixed.jsonl"]\nformat = "jsonl"\non_error = "skip"\n'
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    assert [d["text"] for d in _documents(tmp_path / "runs", "docs")] == ["good one", "good two"]
    stats = _stats(tmp_path / "runs", "docs")
    assert stats["skipped"] == 2
    assert [e.split(": ", 1)[1][:12] for e in stats["errors"]] == ["invalid JSON", "not UTF-8 (i"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("paths", "message"), [('["nothing-*.jsonl"]', "matches no files"), ('["empty.jsonl"]', "read no documents")]
)
def test_empty_inputs_are_errors(tmp_path: Path, paths: str, message: str) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    spec = _spec(tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = {paths}\nformat = "jsonl"\n')
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert message in result.stdout


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
    spec = _spec(
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
    assert _run(spec, tmp_path / "runs").returncode == 0
    kept = _documents(tmp_path / "runs", "clean")
    assert [d["text"] for d in kept] == [lines[0], lines[3]]
    assert kept[0]["attributes"]["gopher_quality"] == 65  # type: ignore[index]
    assert 0.6 < kept[0]["attributes"]["compression_ratio"] < 0.62  # type: ignore[index,operator]
    rules = _stats(tmp_path / "runs", "clean")["rules"]
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
    config = {
        "method": "minhash",
        "jaccard": 0.8,
        "num_perm": 128,
        "ngram": 5,
        "seed": 0,
        "_bands": 0,
        "_rows": 0,
        "runner": {"name": "FnApiRunner", "options": {}},
        "workers": None,
    }
    from lmspec.runtime.data.minhash import choose_bands

    config["_bands"], config["_rows"] = choose_bands(128, 0.8)
    work = tmp_path / "work"
    candidates, offsets = _candidate_pairs([str(shard)], config, work)
    found = {(int(a), int(b)) for a, b in verified(candidates, offsets, work, config)}  # one shard: local indices
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
        done = _run(_spec(tmp_path, steps.replace("CODEC", codec)), root)
        assert done.returncode == 0, done.stdout + done.stderr
        for step in ("docs", "unique"):
            [shard] = shards(_output(root, step))
            assert shard.name == f"part-00000-of-00001{suffix}"
            assert shard.read_bytes().startswith(magic)
        outputs[codec] = _documents(root, "unique")
    assert outputs["zstd"] == outputs["gzip"]
    assert [d["text"] for d in outputs["zstd"]] == ["the first line of text", "hi", "another line that is long enough"]


def test_exact_dedup_keeps_the_first_of_each_normalised_text(tmp_path: Path) -> None:
    lines = ["Hello, World!", "something else", "hello world", "HELLO   world", "something else"]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = _spec(
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
    assert _run(spec, tmp_path / "runs").returncode == 0
    assert [d["text"] for d in _documents(tmp_path / "runs", "unique")] == ["Hello, World!", "something else"]
    assert _stats(tmp_path / "runs", "unique")["duplicates_dropped"] == 3


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
    spec = _spec(tmp_path, QUALITY_SPEC)
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    english = _documents(tmp_path / "runs", "english")
    assert len(english) == 200
    assert all(d["attributes"]["language"] > 0.5 for d in english)  # type: ignore[index,operator]
    quality = _stats(tmp_path / "runs", "quality")
    assert quality["recall"] == 1.0
    assert quality["f1"] > 0.6  # type: ignore[operator]
    kept = _documents(tmp_path / "runs", "filtered")
    assert kept
    assert not any(d["metadata"]["spam"] for d in kept)  # type: ignore[index]

    top = _documents(tmp_path / "runs", "top")
    assert len(top) == 40  # the best-scoring 20% of the 200 English documents
    assert _stats(tmp_path / "runs", "top")["rules"] == {"0:classifier": {"seen": 200, "kept": 40, "dropped": 160}}
    assert not any(d["metadata"]["spam"] for d in top)  # type: ignore[index]

    again = _run(spec, tmp_path / "again")
    assert again.returncode == 0
    [first] = (tmp_path / "runs").glob("quality-*/model.bin")
    [second] = (tmp_path / "again").glob("quality-*/model.bin")
    assert first.read_bytes() == second.read_bytes(), "the same seed must give the same classifier"


def test_annotate_mode_keeps_every_document_with_scores_and_verdicts(tmp_path: Path) -> None:
    lines = ["short one", "the cat and the dog with that hat " * 10]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in lines))
    spec = _spec(
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
    assert _run(spec, tmp_path / "runs").returncode == 0
    docs = _documents(tmp_path / "runs", "scored")
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
        local = _run(_spec(tmp_path, body), tmp_path / "local")
        assert local.returncode == 0, local.stdout
        options = f'dask_client_address = "{address}", dask_npartitions = 2'
        runner = f'runner = {{ name = "DaskRunner", options = {{ {options} }} }}\n'
        on_dask = _run(_spec(tmp_path, body + runner), tmp_path / "dask")
        assert on_dask.returncode == 0, on_dask.stdout
        [local_out] = (tmp_path / "local").glob("clean-*/_SUCCESS")
        [dask_out] = (tmp_path / "dask").glob("clean-*/_SUCCESS")
        assert local_out.parent.name == dask_out.parent.name, "the runner is execution-only: same identity"
        local_shards, dask_shards = shards(local_out.parent), shards(dask_out.parent)
        assert len(local_shards) == 4
        assert [p.read_bytes() for p in local_shards] == [p.read_bytes() for p in dask_shards]
        assert _stats(tmp_path / "dask", "clean")["documents_out"] == 4
    finally:
        for process in reversed(cluster):
            os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def _page(title: str, paragraph: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><nav><a href='/'>Home</a> | <a href='/x'>About</a></nav>"
        f"<main><h1>{title}</h1><p>{paragraph}</p></main><footer>Copyright 2024</footer></body></html>"
    ).encode()


@pytest.mark.parametrize("method", ["resiliparse", "trafilatura"])
def test_warc_ingest_and_extraction_keep_url_and_title(tmp_path: Path, method: str) -> None:
    from examples.quickstart_data import response_record, write_warc

    paragraph = (
        "The river rose slowly through the night, and by morning the lower fields were under water. "
        "Farmers moved their animals to higher ground while volunteers filled sandbags near the bridge."
    )
    write_warc(
        tmp_path / "crawl.warc.gz",
        [
            response_record("http://a.example/flood", _page("Flood news", paragraph)),
            response_record("http://b.example/empty", b"<html><body><nav>menu only</nav></body></html>"),
            response_record("http://c.example/logo.png", b"\x89PNG...", content_type="image/png"),
        ],
    )
    spec = _spec(
        tmp_path,
        f'''
[steps.raw]
kind = "ingest"
paths = ["*.warc.gz"]
format = "warc"
on_error = "skip"

[steps.text]
kind = "extract"
input = "@raw"
method = "{method}"
min_length = 50
''',
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    raw = _stats(tmp_path / "runs", "raw")
    assert (raw["documents_out"], raw["skipped"]) == (2, 1)
    assert "logo.png) is not HTML (Content-Type image/png)" in raw["errors"][0]  # type: ignore[index]
    [page] = _documents(tmp_path / "runs", "text")
    assert page["metadata"]["url"] == "http://a.example/flood"  # type: ignore[index]
    assert page["metadata"]["title"] == "Flood news"  # type: ignore[index]
    assert "The river rose slowly" in page["text"]  # type: ignore[operator]
    assert "Copyright" not in page["text"]  # type: ignore[operator]
    assert _stats(tmp_path / "runs", "text")["too_short"] == 1


def test_warc_record_without_html_is_an_error_by_default(tmp_path: Path) -> None:
    from examples.quickstart_data import response_record, write_warc

    write_warc(tmp_path / "crawl.warc.gz", [response_record("http://c.example/x.pdf", b"%PDF", "application/pdf")])
    spec = _spec(tmp_path, '[steps.raw]\nkind = "ingest"\npaths = ["*.warc.gz"]\nformat = "warc"\n')
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert "crawl.warc.gz: record 1 (http://c.example/x.pdf) is not HTML" in result.stdout


def test_ingest_reads_fsspec_urls(tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "r.jsonl").write_text('{"text": "from a url"}\n')
    spec = _spec(
        tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = ["file://{tmp_path}/remote/*.jsonl"]\nformat = "jsonl"\n'
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    [doc] = _documents(tmp_path / "runs", "docs")
    assert (doc["id"], doc["text"], doc["source"]) == ("r.jsonl:1", "from a url", f"file://{tmp_path}/remote/r.jsonl")


def test_ingest_a_hugging_face_dataset_directory(tmp_path: Path) -> None:
    """The real `datasets.load_dataset` path; a local dataset directory stands in for a Hub name offline."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "train.jsonl").write_text('{"content": "first", "lang": "en"}\n{"content": "second"}\n')
    spec = _spec(
        tmp_path,
        """
[steps.docs]
kind = "ingest"
paths = ["corpus"]
format = "huggingface"
text_field = "content"
""",
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    docs = _documents(tmp_path / "runs", "docs")
    assert [(d["id"], d["text"]) for d in docs] == [("corpus:1", "first"), ("corpus:2", "second")]
    assert docs[0]["metadata"] == {"lang": "en"}


def test_classifier_rule_takes_a_model_file(tmp_path: Path) -> None:
    """A classifier trained elsewhere (here: by an earlier lmspec run), used by its file path."""
    import shutil

    _quality_corpus(tmp_path)
    assert _run(_spec(tmp_path, QUALITY_SPEC), tmp_path / "first").returncode == 0
    [trained] = (tmp_path / "first").glob("quality-*/model.bin")
    shutil.copy(trained, tmp_path / "quality.bin")
    spec = _spec(
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
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    kept = _documents(tmp_path / "runs", "kept")
    assert kept
    assert not any(d["metadata"].get("spam") for d in kept)  # type: ignore[attr-defined]


def test_train_classifier_from_jsonl_files(tmp_path: Path) -> None:
    _quality_corpus(tmp_path)
    spec = _spec(
        tmp_path,
        """
[steps.quality]
kind = "train_classifier"
positive = ["hq.jsonl"]
negative = ["web*.jsonl"]
epochs = 10
""",
    )
    result = _run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    stats = _stats(tmp_path / "runs", "quality")
    assert (stats["positive"], stats["negative"]) == (200, 201)
    assert stats["recall"] == 1.0
