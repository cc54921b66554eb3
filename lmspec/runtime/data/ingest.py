"""`ingest`: local files, globs, fsspec URLs or Hugging Face datasets (jsonl, parquet, text, warc) -> lmspec
document shards.

One input file becomes one output shard, in sorted path order, so the output is the same on every run
and every runner. Bad records stop the step with file and line, or with `on_error = "skip"` are
counted (and the first reasons kept) in its stats: never silently fewer documents. A record keeps its
own id (its `id_field`, else its `id` field, as DataTrove and Dolma do), else gets `<file name>:<record number>`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmspec.compiler.inputs import local_files
from lmspec.outputs.chat import MESSAGES, PROMPT, chat_document, preference_document
from lmspec.outputs.documents import (
    DataError,
    Document,
    DocumentStats,
    ShardWriter,
    open_binary,
    parse_json_line,
    read_documents,
    read_lines,
    shard_paths,
)
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Ingest

RECORD_ID_FIELD = "id"
"""The field a record's own id is read from when `id_field` is not set (as DataTrove and Dolma do)."""

Records = Iterator[Document | DataError]
"""What a format reader yields: each record as a document, or what is wrong with it."""


@dataclass(frozen=True)
class IngestTask:
    """One input file (or dataset) into one output shard (a Beam element)."""

    source: str
    """The file as the user named it (a path, a URL, a dataset name): documents' `source` and messages use it."""
    target: Path
    spec: Ingest


@executes(Ingest)
def ingest(ctx: StepContext[Ingest]) -> StepResult:
    spec = ctx.spec
    if spec.format == "huggingface":  # a local dataset directory (relative to the spec) or a Hub name
        files = [str(local) if (local := ctx.local_path(p)).exists() else p for p in spec.paths]
    else:
        files = expand_paths(spec.paths, ctx.spec_dir)
    started = time.time()
    targets = shard_paths(ctx.output_dir, len(files), spec.compression)
    tasks = [IngestTask(source, target, spec) for source, target in zip(files, targets, strict=True)]
    ctx.log.info("ingesting %d files as %s", len(files), spec.format)
    results = run_shard_tasks(tasks, ingest_file, ctx.output_dir, spec.runner, spec.workers)
    if spec.max_documents is not None:
        _keep_first(results, targets, spec.max_documents)
    result = step_stats.finish(ctx.output_dir, results, started)
    if result.counts.get("documents_out", 0) == 0:
        raise DataError(
            f"ingest read no documents from {len(files)} file(s) ({', '.join(files[:3])}...): "
            "the inputs are empty" + (" or every record was skipped" if result.counts.get("skipped") else "")
        )
    return result


def expand_paths(patterns: list[str], spec_dir: Path) -> list[str]:
    """Globs and plain paths, relative to the spec file; URLs through fsspec. A pattern matching nothing is an error."""
    files: list[str] = []
    for pattern in patterns:
        if "://" in pattern:
            import fsspec

            fs, _, found = fsspec.get_fs_token_paths(pattern)
            matched = sorted(fs.unstrip_protocol(p) for p in found)
        else:  # the files the plan fingerprinted: one expansion for both
            matched = local_files(pattern, spec_dir)
        if not matched:
            raise DataError(f"path `{pattern}` matches no files (looked in {spec_dir} for relative paths)")
        files.extend(matched)
    return files


def _keep_first(results: list[DocumentStats], targets: list[Path], limit: int) -> None:
    """`max_documents`: keep the first `limit` documents in shard order (each shard already stopped at `limit`);
    shards past the limit are rewritten empty, so shard names and order never depend on the limit."""
    seen = 0
    for stats, target in zip(results, targets, strict=True):
        keep = max(0, min(stats.documents_out, limit - seen))
        seen += keep
        if keep == stats.documents_out:
            continue
        kept = list(itertools.islice(read_documents(target), keep))
        writer = ShardWriter(target.with_name(f".cut-{target.name}"))  # same suffix: same codec
        for doc in kept:
            writer.write(doc)
        writer.close()
        os.replace(writer.path, target)
        stats.documents_out, stats.bytes_out = writer.documents, writer.bytes


def ingest_file(task: IngestTask) -> DocumentStats:
    """One input file -> one output shard; returns its stats (a Beam task, so module-level)."""
    if task.spec.format != "huggingface" and "://" in task.source:
        # remote (fsspec): copied next to the shard being written, read, then removed
        with _local_copy(task.source, task.target.parent) as local:
            return _ingest_local(local, task)
    return _ingest_local(Path(task.source), task)


@contextlib.contextmanager
def _local_copy(url: str, folder: Path) -> Iterator[Path]:
    import fsspec

    local = folder / f".download-{uuid.uuid4().hex}-{url.rsplit('/', 1)[-1]}"
    try:
        with fsspec.open(url, "rb") as remote, local.open("wb") as f:
            shutil.copyfileobj(remote, f, length=1 << 20)
        yield local
    finally:
        local.unlink(missing_ok=True)


def _ingest_local(path: Path, task: IngestTask) -> DocumentStats:
    stats = DocumentStats(bytes_in=path.stat().st_size if path.is_file() else 0, counts={"files_in": 1})
    writer = ShardWriter(task.target)
    try:
        for item in _READERS[task.spec.format](path, task.source, task.spec):
            if task.spec.max_documents is not None and writer.documents >= task.spec.max_documents:
                break  # the step keeps the first max_documents overall; no file can need more
            try:
                if isinstance(item, DataError):
                    raise item
                writer.write(item)
            except DataError as error:
                stats.skip(error, task.spec.on_error)
    finally:
        writer.close()
    stats.documents_in = stats.documents_out = writer.documents
    stats.bytes_out = writer.bytes
    return stats


def _name(origin: str) -> str:
    """The file name of an input as the user named it (ids `<file name>:<record number>` use it)."""
    return origin.rstrip("/").rsplit("/", 1)[-1]


def jsonl_records(
    path: Path, origin: str, text_field: str, fix: str
) -> Iterator[tuple[int, dict[str, Any], str] | DataError]:
    """(line number, record, its text) for each non-blank line of a JSONL file, or what is wrong with that line;
    `fix` tells the user what to do about a record without a string `text_field`."""
    for line_no, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
            continue
        if not line.strip():
            continue
        try:
            record = parse_json_line(path, line_no, line)
        except DataError as exc:
            yield exc
            continue
        text = record.get(text_field)
        if not isinstance(text, str):
            yield DataError(
                f"{origin}:{line_no}: field `{text_field}` is missing or not a string "
                f"(fields: {', '.join(sorted(record)) or 'none'}); {fix}"
            )
            continue
        yield line_no, record, text


def _jsonl(path: Path, origin: str, spec: Ingest) -> Records:
    for item in jsonl_records(path, origin, spec.text_field, fix="set text_field"):
        if isinstance(item, DataError):
            yield item
            continue
        line_no, record, text = item
        yield _from_record(record, text, f"{_name(origin)}:{line_no}", origin, spec, scalars_only=False)


def _from_record(
    record: dict[str, Any], text: str, fallback_id: str, origin: str, spec: Ingest, scalars_only: bool
) -> Document:
    """A document from a table row: its id (`_record_id`, else `fallback_id`), the other fields as metadata.

    Parquet and dataset rows may hold arrays and nested types that JSON cannot carry: `scalars_only`
    keeps their plain values only.
    """
    found = _record_id(record, spec.id_field)
    id_key, doc_id = found if found is not None else (None, fallback_id)
    metadata = {
        k: v
        for k, v in record.items()
        if k not in (spec.text_field, id_key) and (not scalars_only or isinstance(v, (str, int, float, bool)))
    }
    return Document(id=doc_id, text=text, source=origin, metadata=metadata, attributes={})


def _record_id(record: dict[str, Any], id_field: str | None) -> tuple[str, str] | None:
    """(field, id) of a record's own id: its `id_field` when set, else its `id` when that is a non-empty string
    or an integer; None when it has no such id."""
    if id_field is not None:
        return (id_field, str(record[id_field])) if id_field in record else None
    value = record.get(RECORD_ID_FIELD)
    if (isinstance(value, str) and value) or (isinstance(value, int) and not isinstance(value, bool)):
        return RECORD_ID_FIELD, str(value)
    return None


def _parquet(path: Path, origin: str, spec: Ingest) -> Records:
    text_field = spec.text_field
    for row, record in _parquet_rows(path, origin, required=text_field, fix="set text_field"):
        text = record.get(text_field)
        if not isinstance(text, str):
            yield DataError(f"{origin}: row {row}: `{text_field}` is null or not a string")
            continue
        yield _from_record(record, text, f"{_name(origin)}:{row}", origin, spec, scalars_only=True)


def _parquet_rows(path: Path, origin: str, required: str, fix: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based row number, row) of a Parquet file that has the column `required`."""
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{origin}: not a readable parquet file ({exc})") from None
    if required not in table.schema_arrow.names:
        raise DataError(f"{origin}: no column `{required}` (columns: {', '.join(table.schema_arrow.names)}); {fix}")
    row = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def _chat(path: Path, origin: str, spec: Ingest) -> Records:
    """Conversations (`{"messages": [...]}`) from JSONL or Parquet files (`lmspec.outputs.chat`)."""
    return _structured(path, origin, spec, MESSAGES, chat_document)


def _preference(path: Path, origin: str, spec: Ingest) -> Records:
    """Preference pairs (`{"prompt", "chosen", "rejected"}`) from JSONL or Parquet files."""
    return _structured(path, origin, spec, PROMPT, preference_document)


def _structured(
    path: Path, origin: str, spec: Ingest, key: str, make: Callable[[dict[str, Any], str, str, str], Document]
) -> Records:
    """Records read whole (no text field), each made into a document by `make` or reported at its line or row."""
    if path.name.endswith(".parquet"):
        rows: Iterator[tuple[int, dict[str, Any]] | DataError] = _parquet_rows(path, origin, key, "is it chat data?")
        where = "row "
    else:
        rows = _json_objects(path)
        where = ""
    for item in rows:
        if isinstance(item, DataError):
            yield item
            continue
        number, record = item
        found = _record_id(record, spec.id_field)
        doc_id = found[1] if found is not None else f"{_name(origin)}:{number}"
        try:
            yield make(record, doc_id, origin, f"{origin}:{where}{number}")
        except DataError as error:
            yield error


def _json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]] | DataError]:
    """(line number, object) of each non-blank line of a JSONL file, or what is wrong with that line."""
    for line_no, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
        elif line.strip():
            try:
                yield line_no, parse_json_line(path, line_no, line)
            except DataError as exc:
                yield exc


def _warc(path: Path, origin: str, spec: Ingest) -> Records:
    """HTTP responses of a (gzipped) WARC file, read with FastWARC; the document text is the raw HTML.

    A response that is not HTML is an error at its record number (or, with on_error = "skip", a counted
    skip): extraction downstream expects pages.
    """
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    with open_binary(path) as head:
        start = head.read(5)
    if start != b"WARC/":  # a WARC file (compressed or not) starts with its first record's version line
        yield DataError(f"{origin}: not a WARC file (it starts with {start!r}, not b'WARC/'); is `format` right?")
        return
    number = 0
    try:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=True):
                number += 1
                url = record.headers.get("WARC-Target-URI", "") or ""
                http = record.http_headers
                content_type = ((http.get("Content-Type", "") if http else "") or "").lower()
                if "html" not in content_type:
                    kind = content_type or "missing"
                    yield DataError(
                        f"{origin}: record {number} ({url}) is not HTML (Content-Type {kind}); "
                        'on_error = "skip" counts and skips such records'
                    )
                    continue
                body = record.reader.read()
                html = bytes_to_str(body, detect_encoding(body) or "utf-8")
                metadata = {"url": url, "date": record.headers.get("WARC-Date", ""), "content_type": content_type}
                doc_id = record.record_id or f"{_name(origin)}:{number}"
                yield Document(id=doc_id, text=html, source=origin, metadata=metadata, attributes={})
    except (OSError, EOFError, ValueError) as exc:
        yield DataError(f"{origin}: record {number + 1}: the WARC file is truncated or corrupt ({exc})")


def _huggingface(path: Path, origin: str, spec: Ingest) -> Records:
    """A Hugging Face dataset by name (needs the network) or a local dataset directory, streamed."""
    import datasets

    try:
        rows = datasets.load_dataset(origin, spec.subset, split=spec.split, streaming=True)
    except Exception as exc:  # the Hub client raises many types; all mean "cannot load it"
        raise DataError(
            f"cannot load Hugging Face dataset `{origin}` (split {spec.split}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    text_field = spec.text_field
    for number, record in enumerate(rows, start=1):
        text = record.get(text_field)
        if not isinstance(text, str):
            yield DataError(
                f"{origin}: row {number}: `{text_field}` is missing or not a string "
                f"(fields: {', '.join(sorted(record))}); set text_field"
            )
            continue
        yield _from_record(record, text, f"{_name(origin)}:{number}", origin, spec, scalars_only=True)


def _text(path: Path, origin: str, spec: Ingest) -> Records:
    """A whole file is one document."""
    lines = []
    for _, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
            return
        lines.append(line)
    yield Document(id=_name(origin), text="".join(lines), source=origin, metadata={}, attributes={})


_READERS: dict[str, Callable[[Path, str, Ingest], Records]] = {
    "jsonl": _jsonl,
    "parquet": _parquet,
    "text": _text,
    "warc": _warc,
    "huggingface": _huggingface,
    "chat": _chat,
    "preference": _preference,
}
"""An ingest `format` -> its reader: (local file, the name the user gave it, the spec) -> records."""
