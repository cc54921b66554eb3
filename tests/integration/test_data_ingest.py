"""Ingest on real files: every format, ids, URLs, Hugging Face datasets, WARC crawls and their extraction."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from tests.integration.test_data_steps import lmspec_run, step_documents, step_stats, write_spec

pytestmark = pytest.mark.integration


def test_ingest_reads_every_format_into_ordered_shards(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.jsonl").write_text('{"text": "one", "url": "u1"}\n{"text": "two", "doc": "d2"}\n')
    with gzip.open(data / "b.jsonl.gz", "wt") as f:
        f.write('{"text": "three"}\n')
    (data / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b'{"text": "four"}\n'))
    pq.write_table(pa.table({"content": ["five", "six"], "n": [5, 6]}), data / "d.parquet")
    (data / "e.txt").write_text("a whole\nfile\n")
    spec = write_spec(
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
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = step_documents(tmp_path / "runs", "lines")
    assert [d["text"] for d in lines] == ["one", "two", "three", "four"]
    assert [d["id"] for d in lines] == ["a.jsonl:1", "d2", "b.jsonl.gz:1", "c.jsonl.zst:1"]
    assert lines[0]["metadata"] == {"url": "u1"}
    assert set(lines[0]) == {"id", "text", "source", "metadata", "attributes"}
    table = step_documents(tmp_path / "runs", "table")
    assert [(d["text"], d["metadata"]) for d in table] == [("five", {"n": 5}), ("six", {"n": 6})]
    assert step_documents(tmp_path / "runs", "files")[0]["text"] == "a whole\nfile\n"
    stats = step_stats(tmp_path / "runs", "lines")
    assert (stats.counts["files_in"], stats.documents_out, stats.shards, stats.skipped) == (3, 4, 3, 0)


def test_ingest_keeps_a_record_own_id(tmp_path: Path) -> None:
    """No id_field: a record's `id` (a non-empty string or an integer) is kept, else `<file>:<record>`; with
    id_field set, that field is the id and `id` is metadata like any other field."""
    records = [{"id": "own", "text": "a"}, {"id": 7, "text": "b"}, {"id": "", "text": "c"}, {"id": True, "text": "d"}]
    (tmp_path / "ids.jsonl").write_text("".join(json.dumps(r) + "\n" for r in [*records, {"text": "e", "doc": "x"}]))
    pq.write_table(pa.table({"text": ["p", "q"], "id": ["p1", None]}), tmp_path / "t.parquet")
    spec = write_spec(
        tmp_path,
        """
[steps.own]
kind = "ingest"
paths = ["ids.jsonl"]
format = "jsonl"

[steps.named]
kind = "ingest"
paths = ["ids.jsonl"]
format = "jsonl"
id_field = "doc"

[steps.table]
kind = "ingest"
paths = ["t.parquet"]
format = "parquet"
""",
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    own = step_documents(tmp_path / "runs", "own")
    assert [d["id"] for d in own] == ["own", "7", "ids.jsonl:3", "ids.jsonl:4", "ids.jsonl:5"]
    assert [d["metadata"] for d in own] == [{}, {}, {"id": ""}, {"id": True}, {"doc": "x"}]
    named = step_documents(tmp_path / "runs", "named")
    assert [d["id"] for d in named] == ["ids.jsonl:1", "ids.jsonl:2", "ids.jsonl:3", "ids.jsonl:4", "x"]
    assert named[0]["metadata"] == {"id": "own"}
    assert [d["id"] for d in step_documents(tmp_path / "runs", "table")] == ["p1", "t.parquet:2"]


def test_ingest_reads_fsspec_urls(tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "r.jsonl").write_text('{"text": "from a url"}\n')
    spec = write_spec(
        tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = ["file://{tmp_path}/remote/*.jsonl"]\nformat = "jsonl"\n'
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    [doc] = step_documents(tmp_path / "runs", "docs")
    assert (doc["id"], doc["text"], doc["source"]) == ("r.jsonl:1", "from a url", f"file://{tmp_path}/remote/r.jsonl")


def test_ingest_a_hugging_face_dataset_directory(tmp_path: Path) -> None:
    """The real `datasets.load_dataset` path; a local dataset directory stands in for a Hub name offline."""
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "train.jsonl").write_text('{"content": "first", "lang": "en"}\n{"content": "second"}\n')
    spec = write_spec(
        tmp_path,
        """
[steps.docs]
kind = "ingest"
paths = ["corpus"]
format = "huggingface"
text_field = "content"
""",
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    docs = step_documents(tmp_path / "runs", "docs")
    assert [(d["id"], d["text"]) for d in docs] == [("corpus:1", "first"), ("corpus:2", "second")]
    assert docs[0]["metadata"] == {"lang": "en"}


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
    spec = write_spec(
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
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    raw = step_stats(tmp_path / "runs", "raw")
    assert (raw.documents_out, raw.skipped) == (2, 1)
    assert "logo.png) is not HTML (Content-Type image/png)" in raw.errors[0]
    [page] = step_documents(tmp_path / "runs", "text")
    assert page["metadata"]["url"] == "http://a.example/flood"  # type: ignore[index]
    assert page["metadata"]["title"] == "Flood news"  # type: ignore[index]
    assert "The river rose slowly" in page["text"]  # type: ignore[operator]
    assert "Copyright" not in page["text"]  # type: ignore[operator]
    assert step_stats(tmp_path / "runs", "text").counts["too_short"] == 1


def test_warc_record_without_html_is_an_error_by_default(tmp_path: Path) -> None:
    from examples.quickstart_data import response_record, write_warc

    write_warc(tmp_path / "crawl.warc.gz", [response_record("http://c.example/x.pdf", b"%PDF", "application/pdf")])
    spec = write_spec(tmp_path, '[steps.raw]\nkind = "ingest"\npaths = ["*.warc.gz"]\nformat = "warc"\n')
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert "crawl.warc.gz: record 1 (http://c.example/x.pdf) is not HTML" in result.stdout


def test_max_documents_keeps_the_first_documents_in_shard_order(tmp_path: Path) -> None:
    for name, texts in (("a", ["a1", "a2"]), ("b", ["b1", "b2", "b3"]), ("c", ["c1"])):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    spec = write_spec(
        tmp_path, '\n[steps.few]\nkind = "ingest"\npaths = ["*.jsonl"]\nformat = "jsonl"\nmax_documents = 3\n'
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [d["text"] for d in step_documents(tmp_path / "runs", "few")] == ["a1", "a2", "b1"]
    stats = step_stats(tmp_path / "runs", "few")
    assert (stats.documents_out, stats.shards) == (3, 3)  # shard names and count do not depend on the limit
