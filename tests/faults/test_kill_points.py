"""kill -9 of `lmspec run` at every phase of a step's execution, then a plain re-run: the outputs are a clean
run's, nothing is left beside them, and the catalog says what happened (the killed run and the step it was
executing are `abandoned`, not `running` forever). The kills are real SIGKILLs at real points of the protocol
(`LMSPEC_TEST_KILL_AT`, read by `lmspec.outputs.lifecycle.kill_point`)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from lmspec.catalog import ArtifactStart, Catalog, RunStart, default_catalog_url
from lmspec.outputs.lifecycle import Lease
from tests.faults.conftest import FAULTS, STEPS, Project, catalog_rows, cli, leftovers, same_outputs

pytestmark = FAULTS

PHASES = ["started", "writing", "executed", "renamed", "completed"]
"""Before the output (attempt started), mid-output, after the executor returned but before the rename, after
the rename but before `_SUCCESS`, after `_SUCCESS` but before the catalog record."""


def _runs(root: Path) -> dict[str, str]:
    """Run id -> status, read straight from the catalog file (no lmspec process tidying it first)."""
    db = sqlite3.connect(root / "catalog.sqlite")
    try:
        return dict(db.execute("select id, status from lmspec_runs").fetchall())
    finally:
        db.close()


def _plan(project: Project) -> dict[str, Any]:
    """The plan as `lmspec compile --format json` gives it: what a run of the project does."""
    compiled = cli(project, "compile", str(project.spec), "--root", str(project.root), "--format", "json")
    assert compiled.returncode == 0, compiled.stderr
    return dict(json.loads(compiled.stdout))


def _statuses(project: Project) -> dict[str, str]:
    return {s["name"]: s["status"] for s in _plan(project)["steps"]}


@pytest.mark.parametrize("phase", PHASES)
def test_a_run_killed_at_each_phase_recovers_to_a_clean_runs_outputs(
    project: Project, tmp_path: Path, phase: str
) -> None:
    killed = project.run(LMSPEC_TEST_KILL_AT=f"long:{phase}")
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    [killed_run] = _runs(project.root)
    assert _runs(project.root) == {killed_run: "running"}  # as the kill left it

    shown = catalog_rows(project)
    assert shown["long"]["status"] == "abandoned"  # its process is gone: not `running` forever
    assert shown["docs"]["status"] == "succeeded"
    assert _runs(project.root) == {killed_run: "abandoned"}
    assert _statuses(project)["long"] == ("cached" if phase == "completed" else "abandoned")  # a dead lease

    again = project.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert leftovers(project.root) == []
    rows = catalog_rows(project)
    assert {step: row["status"] for step, row in rows.items()} == dict.fromkeys(STEPS, "succeeded")
    assert sorted(_runs(project.root).values()) == ["abandoned", "succeeded"]
    # After `_SUCCESS` the output is complete: cached, not executed again, and recorded from its own record
    # as the killed run's. Before it, the step runs again, from scratch.
    assert project.executions().count("long") == {"started": 1, "completed": 1}.get(phase, 2)
    assert (rows["long"]["run_id"] == killed_run) == (phase == "completed")

    assert project.run(root=tmp_path / "clean").returncode == 0
    same_outputs(project, tmp_path / "clean")


def test_a_lease_taken_over_from_a_silent_host_abandons_what_it_recorded(project: Project) -> None:
    """A run on another machine that shares the root stopped heart-beating while it executed `docs`: when
    its lease times out and this run takes the step over, that run and its record become `abandoned`."""
    [(output, digest)] = [(s["output_path"], s["hash"]) for s in _plan(project)["steps"] if s["name"] == "docs"]
    catalog = Catalog(default_catalog_url(str(project.root))).open()
    catalog.start_run(
        RunStart(
            id="silent",
            experiment="runtime",
            spec_path=str(project.spec),
            spec_text="",
            plan_hash="p",
            root=str(project.root),
            git_commit=None,
            user="u",
            host="far",
            pid=1,
            started_at=time.time(),
            versions={},
        )
    )
    catalog.record_artifact(
        ArtifactStart(output, digest, "docs", "ingest", "runtime", "silent", {}, {}, time.time(), "", {})
    )
    catalog.engine.dispose()
    lease = Lease(Path(output))
    lease.path.write_text(json.dumps({"token": "t", "pid": 1, "host": "far", "since": time.time()}))

    done = project.run(LMSPEC_LEASE_TIMEOUT_S="5")
    assert done.returncode == 0, done.stdout + done.stderr
    assert _runs(project.root)["silent"] == "abandoned"
    assert catalog_rows(project)["docs"]["status"] == "succeeded"
    assert leftovers(project.root) == []


def test_a_run_that_dies_while_another_waits_on_its_lease_is_taken_over(project: Project) -> None:
    """Two runs of one plan; the one executing `long` is killed mid-output. The other, waiting on that lease,
    takes it over at once (a dead local process), executes `long` itself, and finishes the plan."""
    victim = project.popen(LMSPEC_TEST_SLEEP="long:60")
    deadline = time.time() + 120
    while "long" not in project.executions():
        assert victim.poll() is None, "the first run ended before `long`"
        assert time.time() < deadline, "the first run never started `long`"
        time.sleep(0.05)
    waiter = project.popen()
    time.sleep(2.0)  # the second run is waiting on `long`'s lease
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate()
    output = waiter.communicate(timeout=300)[0]
    assert waiter.returncode == 0, output
    assert project.executions().count("long") == 2
    assert catalog_rows(project)["long"]["status"] == "succeeded"
    assert sorted(_runs(project.root).values()) == ["abandoned", "succeeded"]
    assert leftovers(project.root) == []


def test_an_interrupted_run_keeps_its_attempt_as_failed_and_recovers(project: Project) -> None:
    """Ctrl-C (SIGINT) mid-step: the attempt is kept as `<out>.failed` with its log, never left as `.tmp-*`
    (a later run, taking a released lease, would not clear it); the re-run recovers and removes it."""
    victim = project.popen(LMSPEC_TEST_SLEEP="long:60")
    deadline = time.time() + 120
    while "long" not in project.executions():
        assert victim.poll() is None, "the run ended before `long`"
        assert time.time() < deadline, "the run never started `long`"
        time.sleep(0.05)
    time.sleep(0.3)
    victim.send_signal(signal.SIGINT)
    output = victim.communicate(timeout=120)[0]
    assert victim.returncode == 130, output
    assert "lmspec: interrupted" in output
    assert [name.rpartition(".")[2] for name in leftovers(project.root)] == ["failed"]
    assert catalog_rows(project)["long"]["status"] == "failed"

    again = project.run()
    assert again.returncode == 0, again.stdout + again.stderr
    assert leftovers(project.root) == []
