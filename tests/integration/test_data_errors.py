"""Bad input to data steps on real files: fail at file and line, or with `on_error = "skip"` count and go on."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lmspec.outputs.documents import Documents
from tests.integration.test_data_steps import lmspec_run, step_documents, step_output, step_stats, write_spec

pytestmark = pytest.mark.integration


BAD_INPUTS = [
    ("truncated-gzip", "bad.jsonl.gz", gzip.compress(b'{"text": "a"}\n' * 500)[:-40], "truncated or corrupt"),
    ("invalid-json", "bad.jsonl", b'{"text": "ok"}\n{"text": oops}\n', "bad.jsonl:2: invalid JSON"),
    ("not-utf8", "bad.jsonl", b'{"text": "ok"}\n{"text": "caf\xe9"}\n', "bad.jsonl:2: not UTF-8"),
    ("missing-text-field", "bad.jsonl", b'{"body": "x"}\n', "bad.jsonl:1: field `text` is missing"),
    ("lone-surrogate", "bad.jsonl", b'{"text": "ok"}\n{"text": "\\ud800"}\n', "`bad.jsonl:2` is not valid Unicode"),
]


@pytest.mark.parametrize(("name", "content", "message"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_fails_naming_file_and_line(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    spec = write_spec(tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = ["{name}"]\nformat = "jsonl"\n')
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert message in result.stdout
    assert "FAILED docs" in result.stdout


def test_on_error_skip_counts_every_skipped_record(tmp_path: Path) -> None:
    (tmp_path / "mixed.jsonl").write_bytes(
        b'{"text": "good one"}\n{"text": nope}\n{"text": "caf\xe9"}\n{"text": "good two"}\n'
    )
    spec = write_spec(
        tmp_path, '[steps.docs]\nkind = "ingest"\npaths = ["mixed.jsonl"]\nformat = "jsonl"\non_error = "skip"\n'
    )
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 0, result.stdout
    assert [d["text"] for d in step_documents(tmp_path / "runs", "docs")] == ["good one", "good two"]
    stats = step_stats(tmp_path / "runs", "docs")
    assert stats.skipped == 2
    assert [e.split(": ", 1)[1][:12] for e in stats.errors] == ["invalid JSON", "not UTF-8 (i"]
    assert 'docs: 2 bad records skipped (on_error = "skip")' in result.stdout  # said, not only in stats.json


def test_a_file_that_is_no_warc_is_called_so(tmp_path: Path) -> None:
    (tmp_path / "fake.warc.gz").write_bytes(gzip.compress(b"<html>a web page, not a crawl</html>\n"))
    spec = write_spec(tmp_path, '[steps.pages]\nkind = "ingest"\npaths = ["fake.warc.gz"]\nformat = "warc"\n')
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert "fake.warc.gz: not a WARC file (it starts with b'<html', not b'WARC/'); is `format` right?" in result.stdout
    assert "truncated or corrupt" not in result.stdout


@pytest.mark.parametrize(
    ("paths", "message"), [('["nothing-*.jsonl"]', "matches no files"), ('["empty.jsonl"]', "read no documents")]
)
def test_empty_inputs_are_errors(tmp_path: Path, paths: str, message: str) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    spec = write_spec(tmp_path, f'[steps.docs]\nkind = "ingest"\npaths = {paths}\nformat = "jsonl"\n')
    result = lmspec_run(spec, tmp_path / "runs")
    assert result.returncode == 1
    assert message in result.stdout


def _page_record(doc_id: str, words: str) -> str:
    """One line of a documents shard whose text is a small HTML page."""
    text = f"<html><body><p>{words}</p></body></html>"
    return json.dumps({"id": doc_id, "text": text, "source": "s", "metadata": {}, "attributes": {}}) + "\n"


CORRUPT_STEPS = """
[steps.text]
kind = "extract"
input = "@docs"
min_length = 5
ON_ERROR

[steps.kept]
kind = "filter"
input = "@docs"
rules = [{ kind = "regex", pattern = "casino" }]
runner = { name = "DirectRunner" }
workers = 2
ON_ERROR

[steps.unique]
kind = "dedup"
input = "@docs"
method = "exact"
ON_ERROR
"""


def test_on_error_in_extract_filter_and_dedup(tmp_path: Path) -> None:
    """Corrupt records in a documents output (invalid JSON, a text JSON allows and UTF-8 does not, a truncated
    shard) fail each step reading it at file and line, or with on_error = "skip" are counted and skipped."""
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text('{"text": "placeholder"}\n')
    docs = '[steps.docs]\nkind = "ingest"\npaths = ["a.jsonl", "b.jsonl"]\nformat = "jsonl"\n'
    assert lmspec_run(write_spec(tmp_path, docs), tmp_path / "runs").returncode == 0
    first, second = Documents(step_output(tmp_path / "runs", "docs")).shards()
    first.write_bytes(
        gzip.compress(
            (
                _page_record("a", "alpha words here")
                + '{"id": "bad", "text": oops}\n'
                + '{"id": "lone", "text": "half a pair \\ud800"}\n'
                + _page_record("b", "beta words here")
            ).encode()
        )
    )
    whole = gzip.compress((_page_record("c", "casino words here") + _page_record("d", "alpha words here")).encode())
    second.write_bytes(whole[:-8])  # no gzip trailer: both lines can be read, then the file ends too early

    failed = lmspec_run(write_spec(tmp_path, docs + CORRUPT_STEPS.replace("ON_ERROR", "")), tmp_path / "runs")
    assert failed.returncode == 1
    reports = {block.split(":", 1)[0]: block for block in failed.stdout.split("FAILED ")[1:]}
    assert sorted(reports) == ["kept", "text", "unique"]
    for report in reports.values():
        assert f"{first}:2: invalid JSON (Expecting value at column 23) (and 1 more shards failed)" in report

    skipped = lmspec_run(
        write_spec(tmp_path, docs + CORRUPT_STEPS.replace("ON_ERROR", 'on_error = "skip"')), tmp_path / "runs"
    )
    assert skipped.returncode == 0, skipped.stdout
    ids = {step: [d["id"] for d in step_documents(tmp_path / "runs", step)] for step in ("text", "kept", "unique")}
    assert ids == {"text": ["a", "b", "c", "d"], "kept": ["a", "b", "d"], "unique": ["a", "b", "c"]}
    for step in ("text", "kept", "unique"):
        stats = step_stats(tmp_path / "runs", step)
        assert (stats.documents_in, stats.skipped) == (4, 3)
        assert [e.split(": ", 1)[1][:24] for e in stats.errors] == [
            "invalid JSON (Expecting ",
            "the text is not valid Un",
            "the file is truncated or",
        ]
        assert stats.errors[2].startswith(f"{second}:3: ")
