"""The catalog store on real SQLite files: concurrent creation, typed records round trips, version checks."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import select

from lmspec.catalog import ArtifactEnd, ArtifactStart, Catalog, CatalogError, RunStart, tables


def _open(url: str) -> None:
    Catalog(url).open()


def test_processes_creating_one_catalog_at_once_all_succeed(tmp_path: Path) -> None:
    """Runs started together race to create the tables; every one of them must get a working catalog."""
    context = multiprocessing.get_context("spawn")
    for round_ in range(4):
        url = f"sqlite:///{tmp_path}/round-{round_}/catalog.sqlite"
        processes = [context.Process(target=_open, args=(url,)) for _ in range(4)]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=60)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]


def _artifact(name: str, digest: str, inputs: dict[str, str]) -> ArtifactStart:
    return ArtifactStart(
        output_path=f"/r/{name}-{digest}",
        hash=digest,
        step_name=name,
        kind="k",
        experiment="e",
        run_id="r1",
        config={"x": 1},
        fingerprint={"config": {"x": 1}},
        started_at=1.5,
        log_path=f"/r/{name}-{digest}.tmp-t/log",
        inputs=inputs,
    )


def test_artifact_round_trip_and_lookup_by_hash_prefix_path_and_step(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    catalog.start_run(
        RunStart(
            id="r1",
            experiment="e",
            spec_path="s.toml",
            spec_text="",
            plan_hash="p",
            root=str(tmp_path),
            git_commit=None,
            user="u",
            host="h",
            started_at=1.0,
            versions={"lmspec": "0.1.0", "jax": None},
        )
    )
    docs, clean = _artifact("docs", "aaaa1111", {}), _artifact("clean", "bbbb2222", {"docs": "/r/docs-aaaa1111"})
    for start in (docs, clean):
        catalog.record_artifact(start)
    running = catalog.find("docs")
    assert running is not None
    assert (running.status, running.log_path, running.finished_at) == ("running", docs.log_path, None)

    catalog.finish_artifact(ArtifactEnd(clean.output_path, "succeeded", 2.0, 0.5, "/r/log", {"n": 3}, {"m": 0.5}))
    catalog.finish_artifact(ArtifactEnd(docs.output_path, "failed", 3.0, 1.5, "/r/failed-log", error="boom"))
    found = catalog.find("bbbb")
    assert found is not None
    assert (found.step_name, found.status, found.counts, found.metrics, found.inputs, found.config) == (
        "clean",
        "succeeded",
        {"n": 3},
        {"m": 0.5},
        {"docs": "/r/docs-aaaa1111"},
        {"x": 1},
    )
    failed = catalog.find("/r/docs-aaaa1111")
    assert failed == catalog.find("docs")
    assert failed is not None
    assert (failed.status, failed.error, failed.duration_s, failed.log_path) == ("failed", "boom", 1.5, "/r/failed-log")
    assert catalog.find("zzzz") is None
    with catalog.engine.connect() as conn:
        [(status, versions)] = conn.execute(select(tables.runs.c.status, tables.runs.c.versions)).all()
    assert (status, json.loads(versions)) == ("running", {"lmspec": "0.1.0", "jax": None})
    catalog.finish_run("r1", "succeeded")
    catalog.engine.dispose()


def test_unreachable_database_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog("sqlite:////proc/no-such-dir/c.sqlite").open()
