"""A step output's life on disk: the lease that makes one process execute a step, the attempt it writes,
the atomic publish, and the failed attempt kept for its log. The only module that names these files.

Layout beside an output `<root>/<step>-<hash>`:
  `<out>.lease`      held while a process executes the step (pid, host, token; mtime is its heartbeat)
  `<out>.tmp-<tok>`  the attempt being written; renamed to `<out>` when the executor returns
  `<out>.failed`     the last failed attempt, kept for its log
  `<out>.resume`     what a resumable executor keeps across attempts (training checkpoints)
  `<out>/_SUCCESS`   written last: the only thing that makes a step complete
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

SUCCESS_MARKER = "_SUCCESS"
"""A step is complete when its output directory holds this file (written last, after an atomic rename)."""
LOG_NAME = "lmspec-step.log"
RESULT_NAME = "lmspec-step.json"

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
        pid = holder.get("pid")
        if holder.get("host") == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
            return True
        try:
            return time.time() - self.path.stat().st_mtime > lease_timeout()
        except FileNotFoundError:
            return True


def lease_active(output: Path) -> bool:
    """True while some live process holds the lease of `output`."""
    probe = Lease(output)
    return probe.path.exists() and not probe._stale()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def attempt_dir(output: Path, token: str, clear_leftovers: bool) -> Path:
    """A fresh temporary sibling for one attempt; first clear what killed attempts left, if there may be any.

    Leftovers exist only after a holder died (its lease is then taken over), so the directory is not
    scanned on every step: with thousands of outputs under one root that scan would dominate.
    """
    if clear_leftovers:
        for pattern in (f"{output.name}.tmp-*", f"{output.name}.old-*"):
            for leftover in output.parent.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)
    tmp = output.with_name(f"{output.name}.tmp-{token}")
    tmp.mkdir(parents=True)
    return tmp


def resume_dir(output: Path) -> Path:
    """Where a resumable executor keeps state across killed or failed attempts of `output`."""
    return output.with_name(f"{output.name}.resume")


def publish(tmp: Path, output: Path, result: dict[str, Any]) -> None:
    """Rename the attempt into place (replacing a forced step's previous output), then mark it complete."""
    (tmp / RESULT_NAME).write_text(json.dumps(result, indent=2, sort_keys=True))
    if output.exists():
        old = output.with_name(f"{output.name}.old-{uuid.uuid4().hex}")
        os.replace(output, old)
        os.replace(tmp, output)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, output)
    marker_tmp = output / f".{SUCCESS_MARKER}.tmp"
    marker_tmp.write_text(json.dumps({"hash": result.get("hash"), "finished_at": time.time()}))
    os.replace(marker_tmp, output / SUCCESS_MARKER)


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
