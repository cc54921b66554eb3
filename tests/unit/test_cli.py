"""The command line as users and CI run it: exit codes, line formats, plan formats, statuses, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.cli import main
from lmspec.compiler import compile_spec
from lmspec.outputs.lifecycle import JOB_FILE, STARTED_FILE, SUCCESS_MARKER, Lease, attempt_dir, keep_failed
from tests.conftest import REPO

GOOD = '[experiment]\nname = "g"\n\n[steps.docs]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n'
TWO_STEPS = GOOD + '\n[steps.t]\nkind = "extract"\ninput = "@docs"\n'
BAD = GOOD.replace('format = "jsonl"', 'format = "jsonl"\nmax_documents = -3')


def test_validate_exit_codes_and_lines(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write_spec(GOOD, "good.toml"), write_spec(BAD, "bad.toml")
    assert main(["validate", str(good)]) == 0
    assert capsys.readouterr().out == "1 spec valid\n"
    assert main(["validate", str(good), str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "bad.toml:8:17: error: steps.docs.max_documents: expected a number >= 1, got -3",
        "1 error in 1 of 2 specs",
    ]


def test_validate_github_format(write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--format", "github", str(write_spec(BAD, "bad.toml"))]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == "::error file=bad.toml,line=8,col=17::steps.docs.max_documents: expected a number >= 1, got -3"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "missing.toml")]) == 1  # a spec path that is not there is a spec error
    assert "file not found" in capsys.readouterr().out
    assert main(["validate", str(tmp_path)]) == 2  # a directory without specs
    with pytest.raises(SystemExit) as exc:
        main(["compile"])
    assert exc.value.code == 2


def test_compile_json_contract_and_cached_status(
    write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = write_spec(TWO_STEPS)
    root = tmp_path / "runs"
    assert main(["compile", str(spec), "--format", "json", "--root", str(root)]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["experiment"] == "g"
    assert [(s["name"], s["inputs"], s["status"]) for s in plan["steps"]] == [
        ("docs", [], "pending"),
        ("t", ["docs"], "pending"),
    ]
    docs = plan["steps"][0]
    assert docs["output_path"] == f"{root}/docs-{docs['hash']}"
    Path(docs["output_path"]).mkdir(parents=True)
    (Path(docs["output_path"]) / SUCCESS_MARKER).write_text("")
    assert main(["compile", str(spec), "--format", "json", "--root", str(root)]) == 0
    assert [s["status"] for s in json.loads(capsys.readouterr().out)["steps"]] == ["cached", "pending"]
    assert main(["compile", str(spec), "--root", str(root)]) == 0
    text = capsys.readouterr().out
    assert f"t  extract  {plan['steps'][1]['hash']}  pending" in text
    assert f"docs  ingest  {docs['hash']}  cached" in text


def test_compile_and_dry_run_show_failed_and_running_steps(
    write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, root = write_spec(TWO_STEPS), str(tmp_path / "runs")
    plan = compile_spec(spec, root)
    docs, t = (Path(plan.step(name).output_path) for name in ("docs", "t"))
    keep_failed(attempt_dir(docs, "x", clear_leftovers=False), docs)  # as a failed step leaves it
    lease = Lease(t)
    assert lease.try_acquire()  # as a run executing `t` holds it
    try:
        assert main(["compile", str(spec), "--format", "json", "--root", root]) == 0
        assert [s["status"] for s in json.loads(capsys.readouterr().out)["steps"]] == ["failed", "running"]
        assert main(["compile", str(spec), "--root", root]) == 0
        text = capsys.readouterr().out
        assert f"docs  ingest  {plan.step('docs').hash}  failed" in text
        assert "2 steps (1 running, 1 failed)" in text
        assert main(["run", str(spec), "--root", root, "--dry-run"]) == 0
        assert capsys.readouterr().out == "2 steps, 2 would run: docs (failed), t (running)\n"
    finally:
        lease.release()


@pytest.mark.parametrize(("fmt", "needle"), [("dot", '"docs" -> "t";'), ("mermaid", "docs --> t")])
def test_compile_graph_formats(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str], fmt: str, needle: str
) -> None:
    spec = write_spec(TWO_STEPS)
    assert main(["compile", str(spec), "--format", fmt, "--root", "/runs"]) == 0
    assert needle in capsys.readouterr().out


def test_compile_of_a_fragment_is_a_usage_error(
    write_spec: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    fragment = write_spec('[steps.docs]\nkind = "ingest"\nformat = "jsonl"\n')
    assert main(["validate", str(fragment)]) == 0  # the missing `paths` may come from the including spec
    assert main(["compile", str(fragment)]) == 2
    assert "is a fragment" in capsys.readouterr().err


def test_schema_check_detects_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "schemas"
    assert main(["schema", "--output", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["experiment.partial.schema.json", "experiment.schema.json"]
    assert main(["schema", "--output", str(out), "--check"]) == 0
    (out / "experiment.partial.schema.json").write_text("{}")
    assert main(["schema", "--output", str(out), "--check"]) == 1
    assert "stale: " in capsys.readouterr().err


def test_validate_and_compile_import_no_engine() -> None:
    """The compiler must start fast and work where no engine is installed; it never loads the runtime."""
    code = (
        "import sys; from lmspec.cli import main;"
        "main(['validate', 'specs', 'examples']); main(['compile', 'examples/quickstart.toml', '--format', 'json']);"
        "heavy = {'apache_beam', 'jax', 'luigi', 'fasttext', 'lm_eval', 'maxtext', 'torch', 'tensorflow'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m.startswith('lmspec.runtime')))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_bad_spec_never_prints_a_traceback(write_spec: Callable[..., Path]) -> None:
    spec = write_spec("[experiment\nname = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "validate", str(spec)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.startswith("spec.toml:1:12: error: TOML syntax error")


def test_dry_run_estimates_the_training_it_would_run(
    write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    training = (
        '\n[steps.tok]\nkind = "train_tokenizer"\ninput = "@docs"\nvocab_size = 512\n'
        '\n[steps.tokens]\nkind = "tokenize"\ninput = "@docs"\ntokenizer = "@tok"\n'
        '\n[steps.model]\nkind = "train"\ndata = "@tokens"\nmodel = { preset = "tiny" }\nsteps = 100\nbatch_size = 8\n'
    )
    spec = write_spec(GOOD + training)
    assert main(["run", str(spec), "--root", str(tmp_path / "runs"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "4 steps, 4 would run: docs, tok, tokens, model"
    assert lines[1].startswith("training that would run: ~")
    assert lines[1].endswith("estimated (model)")


def test_compile_shows_a_step_a_scheduler_has_not_started_as_queued(
    write_spec: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec, root = write_spec(GOOD), str(tmp_path / "runs")
    docs = Path(compile_spec(spec, root).step("docs").output_path)
    lease = Lease(docs)
    assert lease.try_acquire()  # as `lmspec run` holds it while a launcher's job waits in a queue
    try:
        attempt = attempt_dir(docs, lease.token, clear_leftovers=False)
        (attempt / JOB_FILE).write_text("{}")
        assert main(["compile", str(spec), "--format", "json", "--root", root]) == 0
        assert json.loads(capsys.readouterr().out)["steps"][0]["status"] == "queued"
        (attempt / STARTED_FILE).touch()  # the job began on a cluster machine
        assert main(["compile", str(spec), "--format", "json", "--root", root]) == 0
        assert json.loads(capsys.readouterr().out)["steps"][0]["status"] == "running"
    finally:
        lease.release()
