"""`dedup`: exact (normalised-text hash) or MinHash near-duplicate removal, one document kept per cluster.

Two Beam pipelines. The first finds candidate pairs with a shuffle: documents grouped by text hash
(exact), or by LSH band of their MinHash signature (minhash). For minhash the driver then checks each
candidate pair's true Jaccard similarity on its shingles, so no pair below the threshold is merged and
none above it is lost to signature noise. Pairs are joined into clusters (union-find) that keep their
first document in shard and line order, whatever the runner. The second pipeline rewrites each shard
without the dropped documents.
"""

from __future__ import annotations

import json
import time
from itertools import combinations
from pathlib import Path
from typing import Any

from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.data import stats as step_stats
from lmspec.runtime.data.beam import pipeline_args, run_shard_tasks
from lmspec.runtime.data.documents import ShardWriter, read_documents, shard_name, shards
from lmspec.runtime.data.minhash import band_keys, choose_bands, normalize, shingles, signature
from lmspec.runtime.registry import register_executor

Location = tuple[int, int]
"""(shard index, document index within the shard)."""


@register_executor("dedup")
def dedup(ctx: StepContext) -> StepResult:
    config = ctx.step.config.model_dump(mode="json")
    [source] = ctx.inputs.values()
    inputs = [str(p) for p in shards(source)]
    started = time.time()
    if config["method"] == "minhash":
        bands, rows = (
            (config["bands"], config["num_perm"] // config["bands"])
            if config["bands"]
            else choose_bands(config["num_perm"], config["jaccard"])
        )
        config["_bands"], config["_rows"] = bands, rows
        ctx.log.info(
            "minhash: %d permutations in %d bands of %d rows, threshold %.2f",
            config["num_perm"],
            bands,
            rows,
            config["jaccard"],
        )
    pairs = _duplicate_pairs(inputs, config, ctx.output_dir)
    if config["method"] == "minhash":
        pairs = verified(pairs, inputs, config)
    dropped = _dropped(pairs)
    ctx.log.info("%d duplicate pairs; dropping %d documents", len(pairs), len(dropped))
    tasks = [
        {
            "input": path,
            "output": str(ctx.output_dir / shard_name(i, len(inputs))),
            "dropped": sorted(j for s, j in dropped if s == i),
        }
        for i, path in enumerate(inputs)
    ]
    results = run_shard_tasks(tasks, write_kept, ctx.output_dir, config["runner"], config["workers"])
    for result in results:
        result["duplicate_pairs"] = 0
    results[0]["duplicate_pairs"] = len(pairs) if results else 0
    return step_stats.finish(ctx.output_dir, results, started)


def _duplicate_pairs(inputs: list[str], config: dict[str, Any], output_dir: Path) -> list[tuple[Location, Location]]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    out = output_dir / "_pairs.json"
    keyed = _exact_keys if config["method"] == "exact" else _band_keys
    with beam.Pipeline(options=PipelineOptions(pipeline_args(config["runner"], config["workers"]))) as pipeline:
        shard_list = beam.Create(list(enumerate(inputs)))
        keys = beam.FlatMap(keyed, config)
        pairs = beam.FlatMap(_pairs_in_group, config)
        save = beam.Map(_write_json, str(out))
        _ = (
            pipeline
            | "shards" >> shard_list
            | "keys" >> keys
            | "group" >> beam.GroupByKey()
            | "pairs" >> pairs
            | "distinct" >> beam.Distinct()
            | "collect" >> beam.combiners.ToList()
            | "save" >> save
        )
    found = json.loads(out.read_text())
    out.unlink()
    return sorted((tuple(a), tuple(b)) for a, b in found)


def _exact_keys(shard: tuple[int, str], config: dict[str, Any]) -> Any:
    import hashlib

    index, path = shard
    for j, doc in enumerate(read_documents(Path(path))):
        yield hashlib.sha1(normalize(doc["text"]).encode()).hexdigest(), ((index, j), None)


def _band_keys(shard: tuple[int, str], config: dict[str, Any]) -> Any:
    index, path = shard
    for j, doc in enumerate(read_documents(Path(path))):
        sig = signature(doc["text"], config["ngram"], config["num_perm"], config["seed"])
        for key in band_keys(sig, config["_bands"], config["_rows"]):
            yield key, ((index, j), None)


MAX_ALL_PAIRS_BUCKET = 64
"""Above this many documents in one bucket, pair each with the first only (a star keeps the cluster whole)."""


def _pairs_in_group(group: tuple[str, Any], config: dict[str, Any]) -> Any:
    members = sorted(location for location, _ in group[1])
    if config["method"] == "exact" or len(members) > MAX_ALL_PAIRS_BUCKET:
        for location in members[1:]:
            yield (tuple(members[0]), tuple(location))
        return
    for a, b in combinations(members, 2):
        yield (tuple(a), tuple(b))


def verified(
    pairs: list[tuple[Location, Location]], inputs: list[str], config: dict[str, Any]
) -> list[tuple[Location, Location]]:
    """The candidate pairs whose true Jaccard similarity of word shingles reaches the threshold."""
    wanted: dict[int, set[int]] = {}
    for a, b in pairs:
        wanted.setdefault(a[0], set()).add(a[1])
        wanted.setdefault(b[0], set()).add(b[1])
    sets: dict[Location, set[str]] = {}
    for index, docs in wanted.items():
        for j, doc in enumerate(read_documents(Path(inputs[index]))):
            if j in docs:
                sets[(index, j)] = shingles(doc["text"], config["ngram"])
    return [(a, b) for a, b in pairs if len(sets[a] & sets[b]) >= config["jaccard"] * len(sets[a] | sets[b])]


def _write_json(pairs: list[Any], path: str) -> None:
    Path(path).write_text(json.dumps(pairs))


def _dropped(pairs: list[tuple[Location, Location]]) -> set[Location]:
    """Union-find over duplicate pairs; every cluster keeps its first document (lowest location)."""
    parent: dict[Location, Location] = {}

    def find(x: Location) -> Location:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x for x in parent if find(x) != x}


def write_kept(task: dict[str, Any]) -> dict[str, Any]:
    dropped = set(task["dropped"])
    writer = ShardWriter(Path(task["output"]))
    documents_in = bytes_in = 0
    try:
        for j, doc in enumerate(read_documents(Path(task["input"]))):
            documents_in += 1
            bytes_in += len(doc["text"].encode("utf-8"))
            if j not in dropped:
                writer.write(doc)
    finally:
        writer.close()
    return {
        "documents_in": documents_in,
        "bytes_in": bytes_in,
        "documents_out": writer.documents,
        "bytes_out": writer.bytes,
        "duplicates_dropped": len(dropped),
        "errors": [],
    }
