"""The catalog under faults: read-only, locked, deleted; and output into a pipe whose reader has left."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from lmspec.outputs.lifecycle import RESULT_NAME
from tests.faults.conftest import FAULTS, STEPS, Project, catalog_rows, cli

pytestmark = FAULTS


def _catalog_file(project: Project) -> Path:
    return project.root / "catalog.sqlite"


def _everything(project: Project) -> dict[str, Any]:
    """All the catalog says about the project's steps: each artifact as `catalog show` gives it (series too)."""
    shown = {}
    for step in STEPS:
        found = cli(project, "catalog", "show", step, "--root", str(project.root), "--json")
        assert found.returncode == 0, found.stderr
        shown[step] = json.loads(found.stdout)
    return shown


def _delete_catalog(project: Project) -> None:
    for file in project.root.glob("catalog.sqlite*"):
        file.unlink()


def _no_crash(result: subprocess.CompletedProcess[str]) -> None:
    for bad in ("Traceback", "internal error", "sqlalche.me", "Background on this error"):
        assert bad not in result.stdout + result.stderr


def test_a_read_only_catalog_says_so_and_runs_nothing(project: Project) -> None:
    assert project.run().returncode == 0
    # SQLite's own read-only mode: the same refusal a read-only file or mount gets, and root gets it too.
    read_only = f"sqlite:///file:{_catalog_file(project)}?mode=ro&uri=true"
    refused = project.run("--force", "long", "--catalog", read_only)
    assert refused.returncode == 1
    _no_crash(refused)
    assert f"cannot write to the catalog at {_catalog_file(project)}: it is read-only" in refused.stderr
    assert "writable for this user, or record this run in another catalog with --catalog URL" in refused.stderr
    assert project.executions().count("long") == 1  # refused before anything ran
    assert (project.output("long") / "_SUCCESS").is_file()  # and before --force touched the output
    listed = cli(project, "catalog", "ls", "--catalog", read_only, "--json")
    assert listed.returncode == 0, listed.stderr  # reading it still works
    assert {a["step_name"] for a in json.loads(listed.stdout)} == set(STEPS)


def _hold_write_lock(path: Path, held: threading.Event, release: threading.Event) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")  # as an open `sqlite3` shell in a transaction holds it
    held.set()
    release.wait()
    db.execute("ROLLBACK")
    db.close()


def test_a_locked_catalog_is_waited_for_then_reported_with_what_to_do(project: Project) -> None:
    assert project.run().returncode == 0
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_write_lock, args=(_catalog_file(project), held, release))
    holder.start()
    try:
        held.wait()
        refused = project.run("--force", "long", LMSPEC_CATALOG_TIMEOUT_S="2")
        _no_crash(refused)
        assert refused.returncode == 1
        assert f"the catalog at {_catalog_file(project)} is locked: another process held it" in refused.stderr
        assert f"`fuser {_catalog_file(project)}` lists the processes" in refused.stderr
        assert "LMSPEC_CATALOG_TIMEOUT_S=SECONDS" in refused.stderr
        assert project.executions().count("long") == 1
        # A lock released while a run waits for it only delays the run.
        waiting = project.popen("--force", "long", LMSPEC_CATALOG_TIMEOUT_S="300")
        time.sleep(3.0)
    finally:
        release.set()
        holder.join()
    output = waiting.communicate(timeout=300)[0]
    assert waiting.returncode == 0, output
    assert project.executions().count("long") == 2


def test_a_deleted_catalog_is_rebuilt_from_the_outputs_as_it_was(project: Project) -> None:
    assert project.run().returncode == 0
    before = _everything(project)
    assert before["long"]["series"]["kept"][-1] == [5, 4.0]
    _delete_catalog(project)
    missing = cli(project, "catalog", "ls", "--root", str(project.root))
    assert missing.returncode == 2
    assert "`lmspec catalog rebuild` to re-create it" in missing.stderr

    rebuilt = cli(project, "catalog", "rebuild", "--root", str(project.root))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"recorded 4 outputs of {project.root}" in rebuilt.stdout
    assert _everything(project) == before
    again = cli(project, "catalog", "rebuild", "--root", str(project.root))
    assert "recorded 0 outputs" in again.stdout
    assert "(4 were there already)" in again.stdout


def test_rebuild_names_what_it_cannot_read_and_records_the_rest(project: Project) -> None:
    assert project.run().returncode == 0
    _delete_catalog(project)
    (project.output("side") / RESULT_NAME).write_text(json.dumps({"hash": "x", "step": "side"}))  # an older lmspec's
    rebuilt = cli(project, "catalog", "rebuild", "--root", str(project.root))
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"recorded 3 outputs of {project.root}" in rebuilt.stdout
    assert f"skipped {project.output('side')}: step record version None, not 1" in rebuilt.stdout
    nowhere = cli(project, "catalog", "rebuild", "--root", str(project.dir / "nowhere"))
    assert nowhere.returncode == 2
    assert "give the folder `lmspec run` wrote to with --root" in nowhere.stderr


def test_an_all_cached_run_records_what_the_catalog_lacks(project: Project) -> None:
    assert project.run().returncode == 0
    before = _everything(project)
    _delete_catalog(project)
    cached = project.run()
    assert cached.returncode == 0
    assert "4 steps: 4 cached" in cached.stdout
    assert _everything(project) == before
    assert len(project.executions()) == 4


@pytest.mark.parametrize(
    "command",
    [
        ["run", "{spec}", "--root", "{root}", "--quiet"],
        ["compile", "{spec}", "--root", "{root}", "--format", "json"],
        ["catalog", "show", "long", "--root", "{root}", "--json"],
        ["catalog", "ls", "--root", "{root}", "--json"],
    ],
)
def test_output_into_a_pipe_whose_reader_left_ends_quietly(project: Project, command: list[str]) -> None:
    """`lmspec ... | head`: the reader is gone before the first write; the command finishes its work, says
    nothing about the pipe and exits 0."""
    if command[0] != "run":
        assert project.run().returncode == 0
    args = [part.format(spec=project.spec, root=project.root) for part in command]
    process = subprocess.Popen(
        project.command(*args), env=project.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    process.stdout.close()
    _, errors = process.communicate(timeout=300)
    assert (process.returncode, errors) == (0, "")
    assert {row["status"] for row in catalog_rows(project).values()} == {"succeeded"}
