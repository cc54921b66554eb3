"""`ingest`: local files, globs or fsspec URLs (jsonl, parquet, text) -> lmspec document shards.

One input file becomes one output shard, in sorted path order, so the output is the same on every run
and every runner. Bad records stop the step with file and line, or with `on_error = "skip"` are
counted (and the first reasons kept) in stats.json: never silently fewer documents.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lmspec.outputs.documents import DataError, Document, ShardWriter, parse_json_line, read_lines, shard_name
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.registry import executes
from lmspec.schemas.data import Ingest


@executes(Ingest)
def ingest(ctx: StepContext[Ingest]) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    if config["format"] == "huggingface":  # a local dataset directory (relative to the spec) or a Hub name
        files = [str(ctx.spec_dir / p) if (ctx.spec_dir / p).exists() else p for p in config["paths"]]
    else:
        files = expand_paths(config["paths"], ctx.spec_dir)
    started = time.time()
    tasks = [
        {
            "input": path,
            "output": str(ctx.output_dir / shard_name(i, len(files), config["compression"])),
            "config": config,
        }
        for i, path in enumerate(files)
    ]
    ctx.log.info("ingesting %d files as %s", len(files), config["format"])
    results = run_shard_tasks(tasks, ingest_file, ctx.output_dir, config["runner"], config["workers"])
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
        else:
            full = pattern if os.path.isabs(pattern) else str(spec_dir / pattern)
            matched = sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
        if not matched:
            raise DataError(f"ingest path `{pattern}` matches no files (looked in {spec_dir} for relative paths)")
        files.extend(matched)
    return files


def ingest_file(task: dict[str, Any]) -> dict[str, Any]:
    """One input file -> one output shard; returns its stats (a Beam task, so module-level)."""
    if task["config"]["format"] == "huggingface":
        return _ingest_local(Path(task["input"]), task)
    if "://" in task["input"]:  # remote (fsspec): copied next to the shard being written, read, then removed
        with _local_copy(task["input"], Path(task["output"]).parent) as local:
            return _ingest_local(local, task)
    return _ingest_local(Path(task["input"]), task)


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


def _ingest_local(path: Path, task: dict[str, Any]) -> dict[str, Any]:
    config = {**task["config"], "origin": task["input"]}
    writer = ShardWriter(Path(task["output"]))
    skipped, errors = 0, []
    read = {"jsonl": _jsonl, "parquet": _parquet, "text": _text, "warc": _warc, "huggingface": _huggingface}[
        config["format"]
    ]
    bytes_in = path.stat().st_size if path.is_file() else 0
    try:
        for item in read(path, config):
            if isinstance(item, DataError):
                if config["on_error"] != "skip":
                    raise item
                skipped += 1
                errors.append(str(item))
            else:
                writer.write(item)
    finally:
        writer.close()
    return {
        "files_in": 1,
        "bytes_in": bytes_in,
        "documents_out": writer.documents,
        "bytes_out": writer.bytes,
        "skipped": skipped,
        "errors": errors,
    }


def _jsonl(path: Path, config: dict[str, Any]) -> Any:
    origin, name = config["origin"], config["origin"].rsplit("/", 1)[-1]  # as the user named it
    text_field = config["text_field"]
    for line_no, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
            continue
        if not line.strip():
            continue
        try:
            record = parse_json_line(path, line_no, line)
            text = record.get(text_field)
            if not isinstance(text, str):
                raise DataError(
                    f"{origin}:{line_no}: field `{text_field}` is missing or not a string "
                    f"(fields: {', '.join(sorted(record)) or 'none'}); set text_field"
                )
        except DataError as exc:
            yield exc
            continue
        yield _from_record(record, text, f"{name}:{line_no}", config, scalars_only=False)


def _from_record(
    record: dict[str, Any], text: str, fallback_id: str, config: dict[str, Any], scalars_only: bool
) -> Document:
    """A document from a table row: its id field (else `fallback_id`), the other fields as metadata.

    Parquet and dataset rows may hold arrays and nested types that JSON cannot carry: `scalars_only`
    keeps their plain values only.
    """
    text_field, id_field = config["text_field"], config["id_field"]
    doc_id = str(record[id_field]) if id_field and id_field in record else fallback_id
    metadata = {
        k: v
        for k, v in record.items()
        if k not in (text_field, id_field) and (not scalars_only or isinstance(v, (str, int, float, bool)))
    }
    return Document(id=doc_id, text=text, source=config["origin"], metadata=metadata, attributes={})


def _parquet(path: Path, config: dict[str, Any]) -> Any:
    origin, name = config["origin"], config["origin"].rsplit("/", 1)[-1]  # as the user named it
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{origin}: not a readable parquet file ({exc})") from None
    text_field = config["text_field"]
    if text_field not in table.schema_arrow.names:
        raise DataError(
            f"{origin}: no column `{text_field}` (columns: {', '.join(table.schema_arrow.names)}); set text_field"
        )
    row = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            text = record.get(text_field)
            if not isinstance(text, str):
                yield DataError(f"{origin}: row {row}: `{text_field}` is null or not a string")
                continue
            yield _from_record(record, text, f"{name}:{row}", config, scalars_only=True)


def _warc(path: Path, config: dict[str, Any]) -> Any:
    """HTTP responses of a (gzipped) WARC file, read with FastWARC; the document text is the raw HTML.

    A response that is not HTML is an error at its record number (or, with on_error = "skip", a counted
    skip): extraction downstream expects pages.
    """
    origin, name = config["origin"], config["origin"].rsplit("/", 1)[-1]  # as the user named it
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

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
                doc_id = record.record_id or f"{name}:{number}"
                yield Document(id=doc_id, text=html, source=origin, metadata=metadata, attributes={})
    except (OSError, EOFError, ValueError) as exc:
        yield DataError(f"{origin}: record {number + 1}: the WARC file is truncated or corrupt ({exc})")


def _huggingface(path: Path, config: dict[str, Any]) -> Any:
    """A Hugging Face dataset by name (needs the network) or a local dataset directory, streamed."""
    import datasets

    origin = config["origin"]
    try:
        rows = datasets.load_dataset(origin, config["subset"], split=config["split"], streaming=True)
    except Exception as exc:  # the Hub client raises many types; all mean "cannot load it"
        raise DataError(
            f"cannot load Hugging Face dataset `{origin}` (split {config['split']}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    text_field = config["text_field"]
    name = origin.rstrip("/").rsplit("/", 1)[-1]
    for number, record in enumerate(rows, start=1):
        text = record.get(text_field)
        if not isinstance(text, str):
            yield DataError(
                f"{origin}: row {number}: `{text_field}` is missing or not a string "
                f"(fields: {', '.join(sorted(record))}); set text_field"
            )
            continue
        yield _from_record(record, text, f"{name}:{number}", config, scalars_only=True)


def _text(path: Path, config: dict[str, Any]) -> Any:
    """A whole file is one document."""
    origin, name = config["origin"], config["origin"].rsplit("/", 1)[-1]  # as the user named it
    lines = []
    for _, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
            return
        lines.append(line)
    yield Document(id=name, text="".join(lines), source=origin, metadata={}, attributes={})
