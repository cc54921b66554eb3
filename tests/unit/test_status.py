"""Step statuses read from real outputs on disk (and in fsspec's in-memory filesystem for a remote root)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import fsspec
import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.plan import Plan
from lmspec.outputs.lifecycle import SUCCESS_MARKER, Lease, attempt_dir, keep_failed, publish
from lmspec.outputs.status import output_status, plan_statuses

SPEC = """
[experiment]
name = "s"

[steps.docs]
kind = "ingest"
paths = ["a.jsonl"]
format = "jsonl"

[steps.clean]
kind = "extract"
input = "@docs"
"""


@pytest.fixture
def plan_at(write_spec: Callable[..., Path]) -> Callable[[str], Plan]:
    spec = write_spec(SPEC)
    return lambda root: compile_spec(spec, root)


def _fail(output: Path) -> None:
    keep_failed(attempt_dir(output, "t", clear_leftovers=False), output)


def test_each_state_of_a_local_output(tmp_path: Path) -> None:
    out = tmp_path / "step-abc"
    assert output_status(out) == "pending"
    _fail(out)
    assert output_status(out) == "failed"
    lease = Lease(out)
    assert lease.try_acquire()
    assert output_status(out) == "running"  # a retry of the failed attempt is under way
    lease.release()
    assert output_status(out) == "failed"
    publish(attempt_dir(out, "u", clear_leftovers=False), out, {"hash": "abc"})
    assert output_status(out) == "cached"
    _fail(out)
    assert output_status(out) == "cached"  # the success marker wins over a later failed forced attempt


def test_a_lease_left_by_a_dead_process_is_abandoned(tmp_path: Path) -> None:
    out = tmp_path / "step-abc"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    Lease(out).path.write_text(json.dumps({"token": "x", "pid": dead.pid, "host": socket.gethostname()}))
    assert output_status(out) == "abandoned"  # not running; the next run takes it over


def test_plan_statuses_of_a_local_root(plan_at: Callable[[str], Plan], tmp_path: Path) -> None:
    plan = plan_at(str(tmp_path / "runs"))
    assert plan_statuses(plan) == {"docs": "pending", "clean": "pending"}
    docs = Path(plan.step("docs").output_path)
    publish(attempt_dir(docs, "t", clear_leftovers=False), docs, {"hash": plan.step("docs").hash})
    _fail(Path(plan.step("clean").output_path))
    assert plan_statuses(plan) == {"docs": "cached", "clean": "failed"}


def test_a_remote_root_is_read_through_fsspec(plan_at: Callable[[str], Plan], tmp_path: Path) -> None:
    plan = plan_at(f"memory://lmspec-status/{tmp_path.name}")
    with fsspec.open(f"{plan.step('docs').output_path}/{SUCCESS_MARKER}", "w") as marker:
        marker.write("{}")
    assert plan_statuses(plan) == {"docs": "cached", "clean": "pending"}


def test_an_unreadable_remote_root_is_unknown_and_said_once(
    plan_at: Callable[[str], Plan], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = f"nosuchfs://bucket/{tmp_path.name}"
    assert plan_statuses(plan_at(root)) == {"docs": "unknown", "clean": "unknown"}
    assert plan_statuses(plan_at(root)) == {"docs": "unknown", "clean": "unknown"}
    message = capsys.readouterr().err.splitlines()
    assert message == [f"lmspec: cannot read {root} (Protocol not known: nosuchfs); step statuses are unknown"]
