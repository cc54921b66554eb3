"""A step output's life on disk: the lease that makes one process execute a step, the attempt it writes,
the atomic publish, and the failed attempt kept for its log. The only module that names these files.

Layout beside an output `<root>/<step>-<hash>`:
  `<out>.lease`      held while a process executes the step (pid, host, token; mtime is its heartbeat)
  `<out>.tmp-<tok>`  the attempt being written; renamed to `<out>` when the executor returns
  `<out>.failed`     the last failed attempt, kept for its log
  `<out>.resume`     what a resumable executor keeps across attempts (training checkpoints)
  `<out>.tmp-<tok>/lmspec-job.json`, `.../lmspec-job.started`
                     a step a launcher hands to a scheduler (`lmspec.runtime.launchers`): submitted, and
                     started on a cluster machine; until then the step is `queued`
  `<out>/_SUCCESS`   written last: the only thing that makes a step complete
  `<out>/lmspec-step.json`  the output's own record (run, config, inputs, timings, counts, series), written
                     into the attempt before it is renamed: what `lmspec catalog rebuild` re-creates the catalog from

What a killed `lmspec run` leaves, by the point it was killed at, and what the next run does with it:
  before or while the executor writes   a lease of a dead process and `<out>.tmp-*`: the lease is taken
                                        over, the leftovers cleared, the step executed again
  after the executor, before the rename the same
  after the rename, before `_SUCCESS`   `<out>` without its marker: executed again, the old `<out>` replaced
  after `_SUCCESS`, before the catalog  a complete output: cached; its stale lease is removed (`tidy`) and
                                        the catalog record re-made from `lmspec-step.json`
`LMSPEC_TEST_KILL_AT=STEP:PHASE` (read by `kill_point` alone) kills the run with SIGKILL at each of these
points, for the fault-injection tests.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

SUCCESS_MARKER = "_SUCCESS"
"""A step is complete when its output directory holds this file (written last, after an atomic rename)."""
LOG_NAME = "lmspec-step.log"
RESULT_NAME = "lmspec-step.json"
JOB_FILE = "lmspec-job.json"
STARTED_FILE = "lmspec-job.started"

KILL_AT_ENV = "LMSPEC_TEST_KILL_AT"
type KillPhase = Literal["started", "writing", "executed", "renamed", "completed"]
"""Where a step's execution can be killed for a test: its attempt started (nothing written yet), the executor
half-way through writing (the test executors), the executor returned (before the rename), renamed into place
(before `_SUCCESS`), complete (before the catalog records it)."""

DEFAULT_LEASE_TIMEOUT_S = 120.0
"""A lease whose heartbeat is older than this is taken over (its holder is presumed dead)."""


def lease_timeout() -> float:
    return float(os.environ.get("LMSPEC_LEASE_TIMEOUT_S", DEFAULT_LEASE_TIMEOUT_S))


def is_complete(output: Path) -> bool:
    return (output / SUCCESS_MARKER).is_file()


class Lease:
    """An exclusive claim on executing one step, shared through the file system.

    Created with O_EXCL; kept alive by a heartbeat thread touching its mtime. A lease is stale when
    its holder is a dead process on this host, or when its heartbeat stopped for `lease_timeout()`.
    """

    def __init__(self, output: Path) -> None:
        self.path = output.with_name(output.name + ".lease")
        self.token = uuid.uuid4().hex
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self.took_over = False
        """True when the lease was taken from a dead or silent holder, who may have left a partial attempt."""

    def try_acquire(self) -> bool:
        """Take the lease if it is free or stale; never blocks."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"token": self.token, "pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not self._stale():
                return False
            tmp = self.path.with_name(f"{self.path.name}.{self.token}")
            tmp.write_text(body)
            os.replace(tmp, self.path)  # take over; if two processes race, the re-read decides
            time.sleep(0.05)
            if self._holder().get("token") != self.token:
                return False
            self.took_over = True
        else:
            with os.fdopen(fd, "w") as f:
                f.write(body)
        self._beat = threading.Thread(target=self._heartbeat, name=f"lease {self.path.name}", daemon=True)
        self._beat.start()
        return True

    def release(self) -> None:
        # The heartbeat thread is told to stop, not joined: a join costs ~15 ms per step (the thread
        # must be scheduled to notice), and a last stray touch of a removed lease file is harmless.
        self._stop.set()
        if self._holder().get("token") == self.token:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def _heartbeat(self) -> None:
        interval = max(lease_timeout() / 4, 0.05)
        while not self._stop.wait(interval):
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.path)

    def _holder(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def _stale(self) -> bool:
        holder = self._holder()
        if holder_gone(holder.get("host"), holder.get("pid")):
            return True
        try:
            return time.time() - self.path.stat().st_mtime > lease_timeout()
        except FileNotFoundError:
            return True


def lease_active(output: Path) -> bool:
    """True while some live process holds the lease of `output`."""
    probe = Lease(output)
    return probe.path.exists() and not probe._stale()


def queued(output: Path) -> bool:
    """True while the attempt of the live lease of `output` is a job a scheduler has not started yet."""
    token = Lease(output)._holder().get("token")
    attempt = attempt_path(output, token) if isinstance(token, str) else None
    return attempt is not None and (attempt / JOB_FILE).is_file() and not (attempt / STARTED_FILE).exists()


def lease_left_behind(output: Path) -> bool:
    """True when a lease of `output` is there but its holder is gone (a killed run left it)."""
    probe = Lease(output)
    return probe.path.exists() and probe._stale()


def holder_gone(host: object, pid: object) -> bool:
    """True when process `pid` on `host` is known to have exited; only a process on this host can be checked."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def kill_point(output: Path, phase: KillPhase) -> None:
    """SIGKILL this process when `$LMSPEC_TEST_KILL_AT` is `STEP:PHASE` for the step of `output` and `phase`.

    Fault injection for the recovery tests: a real kill -9 at a real point of the protocol, so they show
    that every point a run can die at is recovered by running again. Unset, it costs one environment lookup.
    """
    wanted = os.environ.get(KILL_AT_ENV)
    if wanted and wanted == f"{output.name.rpartition('-')[0]}:{phase}":
        os.kill(os.getpid(), signal.SIGKILL)


def attempt_path(output: Path, token: str) -> Path:
    """Where the attempt holding the lease `token` writes (see `attempt_dir`)."""
    return output.with_name(f"{output.name}.tmp-{token}")


def attempt_dir(output: Path, token: str, clear_leftovers: bool) -> Path:
    """A fresh temporary sibling for one attempt; first clear what killed attempts left, if there may be any.

    Leftovers exist only after a holder died (its lease is then taken over), so the directory is not
    scanned on every step: with thousands of outputs under one root that scan would dominate.
    """
    if clear_leftovers:
        for pattern in (f"{output.name}.tmp-*", f"{output.name}.old-*", f"{output.name}.lease.*"):
            for leftover in output.parent.glob(pattern):
                if leftover.is_dir():
                    shutil.rmtree(leftover, ignore_errors=True)
                else:
                    leftover.unlink(missing_ok=True)
    tmp = attempt_path(output, token)
    tmp.mkdir(parents=True)
    return tmp


def resume_dir(output: Path) -> Path:
    """Where a resumable executor keeps state across killed or failed attempts of `output`."""
    return output.with_name(f"{output.name}.resume")


def publish(tmp: Path, output: Path, record: dict[str, Any]) -> None:
    """Write the output's own `record` into the attempt, rename the attempt into place (replacing an earlier,
    incomplete or forced, output), mark it complete, and drop what earlier attempts left beside it."""
    (tmp / RESULT_NAME).write_text(json.dumps(record, indent=2, sort_keys=True))
    if output.exists():
        old = output.with_name(f"{output.name}.old-{uuid.uuid4().hex}")
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)
    kill_point(output, "renamed")
    marker_tmp = output / f".{SUCCESS_MARKER}.tmp"
    marker_tmp.write_text(json.dumps({"finished_at": time.time()}))
    os.replace(marker_tmp, output / SUCCESS_MARKER)
    tidy(output)


def tidy(output: Path) -> None:
    """Remove what attempts left beside a complete output: the last failed attempt, resume state (training
    checkpoints), and a lease its dead holder never released (a run killed after `_SUCCESS`)."""
    shutil.rmtree(failed_dir(output), ignore_errors=True)
    shutil.rmtree(resume_dir(output), ignore_errors=True)
    if lease_left_behind(output):
        Lease(output).path.unlink(missing_ok=True)


def read_record(output: Path) -> dict[str, Any] | None:
    """The record `publish` wrote into `output`; None when there is none or it is not JSON."""
    try:
        found = json.loads((output / RESULT_NAME).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def published_outputs(root: Path) -> Iterator[Path]:
    """Every complete output directly under `root`: `<step>-<hash>` (step names have no dot, so attempts,
    failed attempts and resume state, all `<out>.<suffix>`, are not)."""
    for path in sorted(root.iterdir()) if root.is_dir() else ():
        if "." not in path.name and is_complete(path):
            yield path


def invalidate(output: Path) -> None:
    """Make `output` incomplete, so every process (forked or not) agrees it must run again, and drop its
    resume state: a forced step starts from scratch, not from its last checkpoint."""
    with contextlib.suppress(FileNotFoundError):
        (output / SUCCESS_MARKER).unlink()
    shutil.rmtree(resume_dir(output), ignore_errors=True)


def failed_dir(output: Path) -> Path:
    """Where the last failed attempt of `output` is kept, with its log."""
    return output.with_name(f"{output.name}.failed")


def keep_failed(tmp: Path, output: Path) -> Path:
    """Keep a failed attempt as `<out>.failed` (replacing an older one) so its log can be read."""
    failed = failed_dir(output)
    shutil.rmtree(failed, ignore_errors=True)
    os.replace(tmp, failed)
    return failed
