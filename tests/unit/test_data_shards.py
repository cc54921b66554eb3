"""The shared shard loop of data steps on real shard files: bad records under both `on_error` settings,
and stats.json written and read back."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from lmspec.outputs.documents import (
    MAX_ERRORS_KEPT,
    STATS_FILE,
    DataError,
    Document,
    Documents,
    DocumentStats,
    read_documents,
    rewrite_shard,
)
from lmspec.runtime.data.beam import pipeline_args
from lmspec.schemas.base import Runner


def _record(doc_id: str, text: str, **fields: object) -> str:
    return json.dumps({"id": doc_id, "text": text, "source": "s", "metadata": {}, "attributes": {}, **fields}) + "\n"


def _shard(folder: Path, lines: list[str]) -> Path:
    path = folder / "part-00000-of-00001.jsonl.gz"
    path.write_bytes(gzip.compress("".join(lines).encode()))
    return path


def _numbers_doubled(_: int, doc: Document) -> Document:
    """A real per-document step that raises (ValueError) on a text that is not a number."""
    doc["text"] = str(2 * int(doc["text"]))
    return doc


def test_a_document_the_step_raises_on_fails_the_shard_at_its_line(tmp_path: Path) -> None:
    source = _shard(tmp_path, [_record("a", "1"), _record("b", "two"), _record("c", "3")])
    with pytest.raises(DataError) as error:
        rewrite_shard(source, tmp_path / "out.jsonl.gz", "fail", _numbers_doubled)
    assert str(error.value).startswith(f"{source}:2: document `b` cannot be processed (ValueError: invalid literal")
    assert 'on_error = "skip"' in str(error.value)


def test_with_skip_a_document_the_step_raises_on_is_counted_and_the_rest_written(tmp_path: Path) -> None:
    source = _shard(tmp_path, [_record("a", "1"), _record("b", "two"), _record("c", "3")])
    stats = rewrite_shard(source, tmp_path / "out.jsonl.gz", "skip", _numbers_doubled)
    assert [d["text"] for d in read_documents(tmp_path / "out.jsonl.gz")] == ["2", "6"]
    assert (stats.documents_in, stats.documents_out, stats.skipped, stats.bytes_in, stats.bytes_out) == (3, 2, 1, 5, 2)
    assert stats.errors[0].startswith(f"{source}:2: document `b`")


BAD_RECORDS = [
    ("no-text", _record("a", "x").replace('"text"', '"body"'), "`id` and `text` must be strings"),
    ("number-id", _record("a", "x").replace('"a"', "5"), "`id` and `text` must be strings"),
    ("list-metadata", _record("a", "x", metadata=[]), "`metadata` and `attributes` must be objects"),
    ("lone-surrogate", _record("a", "x").replace('"x"', '"\\udc80"'), "text is not valid Unicode"),
    ("not-an-object", "[1, 2]\n", "expected a JSON object per line, got list"),
]


@pytest.mark.parametrize(("line", "message"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS])
def test_a_record_that_is_no_document_is_a_bad_record(tmp_path: Path, line: str, message: str) -> None:
    source = _shard(tmp_path, [_record("first", "ok"), line])
    with pytest.raises(DataError, match=f"^{source}:2: .*{message}"):
        list(read_documents(source))
    stats = rewrite_shard(source, tmp_path / "out.jsonl.gz", "skip", lambda _, doc: doc)
    assert (stats.documents_out, stats.skipped) == (1, 1)
    assert message in stats.errors[0]


def test_stats_sum_over_shards_and_read_back_as_written(tmp_path: Path) -> None:
    parts = [
        DocumentStats(
            documents_in=3,
            documents_out=2,
            skipped=1,
            errors=[f"e{i}-{j}" for j in range(15)],
            counts={"too_short": 1},
            rules={"0:length": {"seen": 3, "kept": 2, "dropped": 1}},
        )
        for i in range(2)
    ]
    total = DocumentStats.total(parts)
    assert (total.documents_in, total.documents_out, total.skipped, total.shards) == (6, 4, 2, 2)
    assert total.counts == {"too_short": 2}
    assert total.rules == {"0:length": {"seen": 6, "kept": 4, "dropped": 2}}
    assert len(total.errors) == MAX_ERRORS_KEPT
    assert total.errors[15] == "e1-0"
    total.write(tmp_path)
    assert Documents(tmp_path).stats() == total
    assert json.loads((tmp_path / STATS_FILE).read_text())["too_short"] == 2  # flat, as users read it


def test_pipeline_args_from_the_typed_runner() -> None:
    assert pipeline_args(Runner(), None) == ["--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner"]
    assert pipeline_args(Runner(name="DirectRunner"), 2) == [
        "--runner=DirectRunner",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    ]
    dask = Runner(name="DaskRunner", options={"dask_npartitions": 2, "dask_client_address": "tcp://h:1"})
    assert pipeline_args(dask, 4)[1:] == ["--dask_client_address=tcp://h:1", "--dask_npartitions=2"]
