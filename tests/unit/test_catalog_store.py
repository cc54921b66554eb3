"""The catalog store on real SQLite files: concurrent creation, round trips, version checks."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from lmspec.catalog import Catalog, CatalogError


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


def test_artifact_round_trip_and_lookup_by_hash_prefix_path_and_step(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path}/c.sqlite").open()
    catalog.start_run(
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
        status="running",
        versions="{}",
    )
    for name, digest, inputs in (("docs", "aaaa1111", {}), ("clean", "bbbb2222", {"docs": "/r/docs-aaaa1111"})):
        catalog.record_artifact(
            {
                "output_path": f"/r/{name}-{digest}",
                "hash": digest,
                "step_name": name,
                "kind": "k",
                "experiment": "e",
                "run_id": "r1",
                "config": {"x": 1},
                "fingerprint": {"config": {"x": 1}},
                "status": "succeeded",
                "finished_at": 2.0,
                "counts": {"n": 3},
                "metrics": {"m": 0.5},
            },
            inputs,
        )
    clean = catalog.find("bbbb")
    assert clean is not None
    assert (clean.step_name, clean.counts, clean.metrics, clean.inputs) == (
        "clean",
        {"n": 3},
        {"m": 0.5},
        {"docs": "/r/docs-aaaa1111"},
    )
    assert catalog.find("/r/docs-aaaa1111") == catalog.find("docs")
    assert catalog.find("zzzz") is None
    assert catalog.engine.dispose() is None


def test_unreachable_database_is_a_catalog_error() -> None:
    with pytest.raises(CatalogError, match="cannot open the catalog"):
        Catalog("sqlite:////proc/no-such-dir/c.sqlite").open()
