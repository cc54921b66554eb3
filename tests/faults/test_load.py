"""Load: twenty `lmspec run` processes at once on one root and one catalog (SQLite, and PostgreSQL when
LMSPEC_TEST_POSTGRES_URL is set, as .ci/run does), and two hundred runs in a row. Asserted on outcomes (each
step executed once, every run succeeded, nothing left behind), never on timings: the machine may be loaded."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

import pytest
from sqlalchemy import select

from lmspec.catalog import Catalog, default_catalog_url
from lmspec.catalog.tables import metadata, runs
from tests.faults.conftest import FAULTS, STEPS, Project, catalog_rows, cli, leftovers

pytestmark = FAULTS

CONCURRENT_RUNS = 20
SOAK_RUNS = 200


def _catalog_url(project: Project, backend: str) -> str:
    if backend == "sqlite":
        return default_catalog_url(str(project.root))
    url = os.environ.get("LMSPEC_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("no PostgreSQL server: set LMSPEC_TEST_POSTGRES_URL (scripts/ci-postgres.sh prints one)")
    engine = Catalog(url).engine
    metadata.drop_all(engine)  # a clean catalog for this test
    engine.dispose()
    return url


def _run_statuses(url: str) -> list[str]:
    catalog = Catalog(url)
    with catalog.engine.connect() as conn:
        found = list(conn.execute(select(runs.c.status)).scalars())
    catalog.engine.dispose()
    return found


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_twenty_runs_at_once_execute_each_step_once(project: Project, backend: str) -> None:
    url = _catalog_url(project, backend)
    # Half a second per step keeps the runs overlapping: most of them wait on leases while one executes.
    processes = [
        project.popen("--catalog", url, LMSPEC_TEST_SLEEP="docs:0.5,long:0.5,unique:0.5,side:0.5")
        for _ in range(CONCURRENT_RUNS)
    ]
    outputs = [process.communicate(timeout=900)[0] for process in processes]
    assert [p.returncode for p in processes] == [0] * CONCURRENT_RUNS, "\n".join(outputs)
    for output in outputs:
        assert "locked" not in output
        assert "4 steps: " in output
    assert sorted(project.executions()) == sorted(STEPS)
    assert _run_statuses(url) == ["succeeded"] * CONCURRENT_RUNS
    listed = cli(project, "catalog", "ls", "--catalog", url, "--json")
    assert listed.returncode == 0, listed.stderr
    assert leftovers(project.root) == []


def _files(folder: Path) -> set[str]:
    """Every file under `folder`, relative; SQLite's WAL files come and go with connections, so not them."""
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and "sqlite-" not in p.name}


def _sessions_alive(sessions: set[int]) -> list[str]:
    """Processes still running in any of `sessions` (each run is started in a session of its own)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[3]) in sessions:
            alive.append(stat.parent.name)
    return alive


@pytest.mark.slow
def test_two_hundred_runs_in_a_row_leak_no_files_processes_or_memory(project: Project, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"  # the runs' TMPDIR: a temporary file left by any of them stays here
    temp.mkdir()
    peak_kib: list[int] = []
    sessions: set[int] = set()
    for attempt in range(SOAK_RUNS):
        process = project.popen(TMPDIR=str(temp))
        assert process.stdout is not None
        output = process.stdout.read()
        process.stdout.close()
        _, status, usage = os.wait4(process.pid, 0)  # this run's own peak memory, not the largest child's
        process.returncode = os.waitstatus_to_exitcode(status)
        assert process.returncode == 0, output
        assert "4 steps: 4 " + ("done" if attempt == 0 else "cached") in output
        sessions.add(process.pid)
        peak_kib.append(usage.ru_maxrss)
        if attempt == 0:
            after_first = _files(project.root), _files(temp)
    assert len(project.executions()) == len(STEPS)
    assert (_files(project.root), _files(temp)) == after_first
    assert leftovers(project.root) == []
    assert _sessions_alive(sessions) == []
    assert {row["status"] for row in catalog_rows(project).values()} == {"succeeded"}

    cached = peak_kib[1:]  # the first run executed the steps; the others are all cached, and must stay alike
    trend = statistics.linear_regression(range(len(cached)), cached).slope * len(cached)
    noise = max(3 * statistics.stdev(cached), 0.05 * statistics.median(cached))
    assert trend < noise, f"peak memory grew by {trend:.0f} KiB over {len(cached)} runs (noise {noise:.0f} KiB)"
