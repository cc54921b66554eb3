"""`ingest`: local files, globs or fsspec URLs (jsonl, parquet, text) -> lmspec document shards.

One input file becomes one output shard, in sorted path order, so the output is the same on every run
and every runner. Bad records stop the step with file and line, or with `on_error = "skip"` are
counted (and the first reasons kept) in stats.json: never silently fewer documents.
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path
from typing import Any

from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import run_shard_tasks
from lmspec.runtime.data.documents import DataError, Document, ShardWriter, parse_json_line, read_lines, shard_name
from lmspec.runtime.registry import register_executor


@register_executor("ingest")
def ingest(ctx: StepContext) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    files = expand_paths(config["paths"], ctx.spec_dir)
    if config["format"] == "warc":
        raise DataError('format = "warc" is not supported by this lmspec yet; convert the crawl to jsonl')
    started = time.time()
    tasks = [
        {"input": path, "output": str(ctx.output_dir / shard_name(i, len(files))), "config": config}
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
    config = task["config"]
    path = Path(task["input"])
    writer = ShardWriter(Path(task["output"]))
    skipped, errors = 0, []
    read = {"jsonl": _jsonl, "parquet": _parquet, "text": _text}[config["format"]]
    bytes_in = path.stat().st_size
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
    text_field, id_field = config["text_field"], config["id_field"]
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
                    f"{path}:{line_no}: field `{text_field}` is missing or not a string "
                    f"(fields: {', '.join(sorted(record)) or 'none'}); set text_field"
                )
        except DataError as exc:
            yield exc
            continue
        doc_id = str(record[id_field]) if id_field and id_field in record else f"{path.name}:{line_no}"
        metadata = {k: v for k, v in record.items() if k not in (text_field, id_field)}
        yield Document(id=doc_id, text=text, source=str(path), metadata=metadata, attributes={})


def _parquet(path: Path, config: dict[str, Any]) -> Any:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None
    text_field, id_field = config["text_field"], config["id_field"]
    if text_field not in table.schema_arrow.names:
        raise DataError(
            f"{path}: no column `{text_field}` (columns: {', '.join(table.schema_arrow.names)}); set text_field"
        )
    row = 0
    for batch in table.iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            text = record.get(text_field)
            if not isinstance(text, str):
                yield DataError(f"{path}: row {row}: `{text_field}` is null or not a string")
                continue
            doc_id = str(record[id_field]) if id_field and id_field in record else f"{path.name}:{row}"
            metadata = {
                k: v
                for k, v in record.items()
                if k not in (text_field, id_field) and isinstance(v, (str, int, float, bool))
            }
            yield Document(id=doc_id, text=text, source=str(path), metadata=metadata, attributes={})


def _text(path: Path, config: dict[str, Any]) -> Any:
    """A whole file is one document."""
    lines = []
    for _, line in read_lines(path):
        if isinstance(line, DataError):
            yield line
            return
        lines.append(line)
    yield Document(id=path.name, text="".join(lines), source=str(path), metadata={}, attributes={})
