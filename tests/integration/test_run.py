"""`lmspec run` end to end on real Luigi and SQLite: caching, failures, force, kills, concurrency, luigid."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lmspec.outputs.lifecycle import LOG_NAME, SUCCESS_MARKER
from lmspec.runtime.preflight import physical_memory
from tests.integration.conftest import Project

pytestmark = pytest.mark.integration

STEPS = {"docs", "long", "unique", "side"}


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_run_then_everything_is_cached_and_recorded(project: Project) -> None:
    first = project.run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "4 steps: 4 done" in first.stdout
    assert sorted(project.executions()) == sorted(STEPS)
    for step in STEPS:
        out = project.output(step)
        assert (out / SUCCESS_MARKER).is_file()
        assert (out / LOG_NAME).read_text().strip()
    assert (project.output("long") / "docs.jsonl").read_text().count("\n") == 4

    again = project.run()
    assert again.returncode == 0
    assert "4 steps: 4 cached" in again.stdout
    assert len(project.executions()) == 4

    db = sqlite3.connect(project.root / "catalog.sqlite")
    rows = dict(db.execute("select step_name, status from lmspec_artifacts").fetchall())
    assert rows == dict.fromkeys(STEPS, "succeeded")
    edges = db.execute(
        "select a.step_name, i.input_name from lmspec_inputs i join lmspec_artifacts a "
        "on a.output_path = i.output_path order by 1"
    ).fetchall()
    assert edges == [("long", "docs"), ("side", "docs"), ("unique", "long")]
    runs = db.execute("select status, spec_text, versions from lmspec_runs").fetchall()
    assert [r[0] for r in runs] == ["succeeded", "succeeded"]
    assert 'name = "runtime"' in runs[0][1]
    assert json.loads(runs[0][2])["luigi"]
    counts = json.loads(db.execute("select counts from lmspec_artifacts where step_name='long'").fetchone()[0])
    assert counts == {"documents_out": 4}

    events = [json.loads(line) for line in (project.root / "openlineage.jsonl").read_text().splitlines()]
    assert sorted((e["job"]["name"], e["eventType"]) for e in events) == sorted(
        (s, t) for s in STEPS for t in ("START", "COMPLETE")
    )
    unique_start = next(e for e in events if e["job"]["name"] == "unique" and e["eventType"] == "START")
    assert unique_start["inputs"][0]["name"] == str(project.output("long"))

    [record_file] = (project.root / "experiments").glob("runtime-*.json")
    record = json.loads(record_file.read_text())
    assert record["status"] == "succeeded"
    assert record["step_status"] == dict.fromkeys(STEPS, "cached")
    assert [s["name"] for s in record["plan"]["steps"]] == ["docs", "long", "unique", "side"]


def test_engine_chatter_goes_to_the_step_log_not_the_console(project: Project) -> None:
    done = project.run(LMSPEC_TEST_NOISE="long")
    assert done.returncode == 0, done.stdout + done.stderr
    console = done.stdout + done.stderr
    assert "noise" not in console
    assert "done     long" in done.stdout  # lmspec's own lines still reach the console
    log = (next(p for p in project.root.glob("long-*") if "." not in p.name) / LOG_NAME).read_text()
    for source in ("python stderr", "native fd 2", "own handler", "child process"):
        assert f"noise long: {source}" in log


def test_failure_keeps_independent_branches_and_reports_every_failed_step(project: Project) -> None:
    failed = project.run(LMSPEC_TEST_FAIL="long")
    assert failed.returncode == 1
    assert "1 failed" in failed.stdout
    assert "FAILED long: log " in failed.stdout
    assert "RuntimeError: step long was told to fail" in failed.stdout
    assert "skipped because an input failed: unique" in failed.stdout
    assert (project.output("side") / SUCCESS_MARKER).is_file()  # the independent branch ran
    log = next(project.root.glob("long-*.failed")) / LOG_NAME
    assert "told to fail" in log.read_text()
    assert not list(project.root.glob("unique-*"))
    events = [json.loads(line) for line in (project.root / "openlineage.jsonl").read_text().splitlines()]
    [fail] = [e for e in events if e["eventType"] == "FAIL"]
    assert fail["job"]["name"] == "long"
    assert "told to fail" in fail["run"]["facets"]["errorMessage"]["message"]

    retried = project.run()
    assert retried.returncode == 0, retried.stdout
    assert "2 cached, 2 done" in retried.stdout
    assert project.executions().count("long") == 2
    assert not list(project.root.glob("long-*.failed"))  # a recovered step keeps no failed attempt


def test_a_step_asking_more_memory_than_the_machine_has_is_refused_before_anything_runs(project: Project) -> None:
    spec = project.spec.read_text()

    def ask(memory: str) -> None:
        project.spec.write_text(
            spec.replace("[steps.unique]\n", f'[steps.unique]\nresources = {{ memory = "{memory}" }}\n')
        )

    ask("900TiB")
    refused = project.run()
    assert refused.returncode == 2
    machine = f"{physical_memory() / 1024**3:.1f} GiB"
    assert f"not enough memory on this machine ({machine}) for: unique (resources.memory = '900TiB')" in refused.stderr
    assert "or lower `resources.memory`" in refused.stderr
    assert project.executions() == []
    assert not project.root.exists()  # refused before the catalog or any output was made

    ask("1.5KB")
    assert project.run().returncode == 0
    ask("900TiB")  # memory is execution-only: same hash, and a cached step is not run, so not refused
    cached = project.run()
    assert cached.returncode == 0, cached.stderr
    assert "4 steps: 4 cached" in cached.stdout


def test_force_reruns_the_step_and_its_dependents(project: Project) -> None:
    assert project.run().returncode == 0
    forced = project.run("--force", "long")
    assert forced.returncode == 0
    assert sorted(project.executions()) == sorted([*STEPS, "long", "unique"])
    bad = project.run("--force", "lnog")
    assert bad.returncode == 2
    assert "did you mean `long`" in bad.stderr


def test_sigkill_mid_step_then_rerun_matches_an_uninterrupted_run(project: Project, tmp_path: Path) -> None:
    victim = project.popen(LMSPEC_TEST_SLEEP="long:30")
    _wait_for(lambda: "long" in project.executions())
    time.sleep(0.3)  # the half-written attempt is on disk
    os.killpg(victim.pid, signal.SIGKILL)
    victim.communicate()
    assert list(project.root.glob("long-*.tmp-*")), "the killed attempt left its temporary directory"
    compiled = subprocess.run(
        project.command("compile", str(project.spec), "--root", str(project.root), "--format", "json"),
        env=project.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    statuses = {s["name"]: s["status"] for s in json.loads(compiled.stdout)["steps"]}
    assert statuses["long"] == "abandoned"  # never reported cached; the killed holder left its lease

    resumed = project.run()
    assert resumed.returncode == 0, resumed.stdout
    assert not list(project.root.glob("*.tmp-*"))
    assert not list(project.root.glob("*.lease"))

    clean_root = tmp_path / "clean"
    assert project.run(root=clean_root).returncode == 0
    for step in STEPS:
        assert (project.output(step) / "docs.jsonl").read_bytes() == (
            project.output(step, clean_root) / "docs.jsonl"
        ).read_bytes()


def test_two_runs_at_once_execute_each_step_once(project: Project) -> None:
    first = project.popen(LMSPEC_TEST_SLEEP="docs:1,long:1")
    second = project.popen(LMSPEC_TEST_SLEEP="docs:1,long:1")
    outputs = [p.communicate(timeout=120)[0] for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert sorted(project.executions()) == sorted(STEPS)


def test_stale_lease_of_a_dead_process_is_taken_over(project: Project) -> None:
    project.root.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    compiled = subprocess.run(
        project.command("compile", str(project.spec), "--root", str(project.root), "--format", "json"),
        env=project.env(),
        capture_output=True,
        text=True,
        check=True,
    )
    docs = json.loads(compiled.stdout)["steps"][0]["output_path"]
    Path(docs + ".lease").write_text(json.dumps({"token": "x", "pid": dead.pid, "host": socket.gethostname()}))
    result = project.run()
    assert result.returncode == 0, result.stdout


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_central_scheduler_two_workers_each_step_once(project: Project, tmp_path: Path) -> None:
    luigid = shutil.which("luigid", path=str(Path(sys.executable).parent))
    assert luigid, "luigid ships with luigi"
    port = _free_port()
    (tmp_path / "luigid-logs").mkdir()
    server = subprocess.Popen(
        [
            luigid,
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--state-path",
            str(tmp_path / "luigi.state"),
            "--logdir",
            str(tmp_path / "luigid-logs"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: _listening(port), timeout=30)
        workers = [
            project.popen("--scheduler", f"127.0.0.1:{port}", LMSPEC_TEST_SLEEP="docs:1,long:1") for _ in range(2)
        ]
        outputs = [w.communicate(timeout=180)[0] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], outputs
        assert sorted(project.executions()) == sorted(STEPS)
        assert all((project.output(s) / SUCCESS_MARKER).is_file() for s in STEPS)
    finally:
        os.kill(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_openlineage_events_go_to_an_http_endpoint_when_configured(project: Project) -> None:
    """A stand-in for Marquez: a local HTTP server that keeps what it is sent."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, object]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = project.run(OPENLINEAGE_URL=f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted((e["job"]["name"], e["eventType"]) for e in received) == sorted(  # type: ignore[index]
        (s, t) for s in STEPS for t in ("START", "COMPLETE")
    )
    assert not (project.root / "openlineage.jsonl").exists()
