"""Runtime pieces without Luigi: leases, atomic publish, tidying and kill points, fingerprint diffs, run ids,
memory sizes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from lmspec.compiler.identity import fingerprint_diff
from lmspec.outputs.lifecycle import (
    Lease,
    attempt_dir,
    is_complete,
    keep_failed,
    lease_active,
    lease_left_behind,
    publish,
    published_outputs,
    read_record,
    resume_dir,
    tidy,
)
from lmspec.runtime.preflight import memory_bytes
from lmspec.runtime.provenance import uuid7
from tests.conftest import REPO


def test_lease_is_exclusive_until_released(tmp_path: Path) -> None:
    out = tmp_path / "step-abc"
    first, second = Lease(out), Lease(out)
    assert first.try_acquire()
    assert lease_active(out)
    assert not second.try_acquire()
    first.release()
    assert not lease_active(out)
    assert second.try_acquire()
    second.release()


def test_lease_with_stopped_heartbeat_is_taken_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMSPEC_LEASE_TIMEOUT_S", "0.5")
    out = tmp_path / "step-abc"
    taker = Lease(out)
    lease_file = taker.path
    lease_file.write_text(json.dumps({"token": "other", "pid": 1, "host": "another-host"}))
    assert not taker.try_acquire()  # fresh heartbeat on another host: respected
    old = time.time() - 5
    os.utime(lease_file, (old, old))
    assert taker.try_acquire()
    assert json.loads(lease_file.read_text())["token"] == taker.token
    taker.release()


def test_lease_of_a_dead_local_process_is_stale_at_once(tmp_path: Path) -> None:
    lease = Lease(tmp_path / "step-abc")
    lease.path.write_text(json.dumps({"token": "dead", "pid": 2**22 + 12345, "host": socket.gethostname()}))
    assert lease.try_acquire()
    lease.release()


def test_publish_is_atomic_and_replaces_a_forced_output(tmp_path: Path) -> None:
    out = tmp_path / "step-abc"
    tmp = attempt_dir(out, "t1", clear_leftovers=False)
    (tmp / "data.txt").write_text("one")
    assert not is_complete(out)
    publish(tmp, out, {"hash": "abc"})
    assert is_complete(out)
    assert (out / "data.txt").read_text() == "one"

    leftover = attempt_dir(out, "killed", clear_leftovers=False)  # as a killed run leaves it
    tmp = attempt_dir(out, "t2", clear_leftovers=True)  # after a takeover: clears what a killed attempt left
    assert not leftover.exists()
    (tmp / "data.txt").write_text("two")
    publish(tmp, out, {"hash": "abc"})
    assert (out / "data.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-abc"]


def test_fingerprint_diff_names_each_changed_leaf() -> None:
    before = {"config": {"lr": 0.001, "rules": [{"min": 1}], "gone": 1}}
    after = {"config": {"lr": 0.003, "rules": [{"min": 2}], "new": True}}
    assert fingerprint_diff(before, after) == [
        "config.gone: 1 -> (absent)",
        "config.lr: 0.001 -> 0.003",
        "config.new: (absent) -> True",
        "config.rules[0].min: 1 -> 2",
    ]
    assert fingerprint_diff(before, before) == []


def test_run_ids_are_time_ordereduuid7() -> None:
    first = uuid7()
    time.sleep(0.002)
    second = uuid7()
    assert uuid.UUID(first).version == 7
    assert first < second


def test_progress_table_shows_every_step_state_and_elapsed() -> None:
    from rich.console import Console

    from lmspec.runtime.progress import Progress

    progress = Progress([("docs", "ingest"), ("model", "train")], {"docs": "cached", "model": "pending"}, live=False)
    progress.update("model", "running")
    progress.update("model", "failed", "boom")
    console = Console(width=100, force_terminal=False)
    with console.capture() as capture:
        console.print(progress._table())
    lines = capture.get().splitlines()
    assert lines[1].split() == ["docs", "ingest", "cached"]
    assert lines[2].split()[:3] == ["model", "train", "failed"]
    assert lines[2].split()[-1] == "s"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16GiB", 16 * 1024**3),
        ("16GB", 16 * 1000**3),
        ("1.5 MB", 1_500_000),
        ("2TiB", 2 * 1024**4),
        ("512KiB", 512 * 1024),
        ("3 TB", 3 * 1000**4),
        ("7KB", 7000),
        ("0.5MiB", 512 * 1024),
    ],
)
def test_memory_sizes_in_decimal_and_binary_units(text: str, expected: int) -> None:
    assert memory_bytes(text) == expected


def test_publish_and_tidy_leave_nothing_of_earlier_attempts(tmp_path: Path) -> None:
    out = tmp_path / "step-abc"
    keep_failed(attempt_dir(out, "failed", clear_leftovers=False), out)
    resume_dir(out).mkdir()
    publish(attempt_dir(out, "t1", clear_leftovers=False), out, {"schema_version": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-abc"]
    assert read_record(out) == {"schema_version": 1}

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = Lease(out)
    left.path.write_text(json.dumps({"token": "x", "pid": dead.pid, "host": socket.gethostname()}))
    assert lease_left_behind(out)
    tidy(out)  # what a run killed after `_SUCCESS` left
    assert not left.path.exists()
    held = Lease(out)
    assert held.try_acquire()
    tidy(out)  # a live holder's lease is its own
    assert held.path.exists()
    held.release()


def test_published_outputs_are_the_complete_ones_only(tmp_path: Path) -> None:
    done, unfinished = tmp_path / "a-111", tmp_path / "b-222"
    publish(attempt_dir(done, "t", clear_leftovers=False), done, {})
    attempt_dir(unfinished, "t", clear_leftovers=False)
    keep_failed(attempt_dir(done, "u", clear_leftovers=False), done)
    (tmp_path / "experiments").mkdir()
    assert list(published_outputs(tmp_path)) == [done]
    assert list(published_outputs(tmp_path / "nowhere")) == []
    assert read_record(unfinished) is None


@pytest.mark.parametrize(("kill_at", "killed"), [("step:renamed", True), ("other:renamed", False), ("", False)])
def test_kill_point_kills_its_step_at_its_phase(tmp_path: Path, kill_at: str, killed: bool) -> None:
    """A real SIGKILL between the rename and `_SUCCESS`: the output is in place, and not complete."""
    code = (
        "import sys; from pathlib import Path; from lmspec.outputs.lifecycle import attempt_dir, publish;"
        "out = Path(sys.argv[1]); publish(attempt_dir(out, 't', clear_leftovers=False), out, {})"
    )
    out = tmp_path / "step-abc"
    env = {**os.environ, "LMSPEC_TEST_KILL_AT": kill_at, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=False)
    assert done.returncode == (-signal.SIGKILL if killed else 0)
    assert out.is_dir()
    assert is_complete(out) != killed
