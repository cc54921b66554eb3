"""Data steps write the same bytes for the same input: across two runs, and whatever the worker count.

Early cutoff (`lmspec.compiler.cutoff`) fires only then. The quickstart's data steps (WARC ingest,
extraction, a fastText classifier, a filter with language, classifier and Gopher rules, MinHash dedup, a
BPE tokenizer, tokenization) run three times: once, again under another root, and with `workers = 2` on
every step (Beam's multi-processing runner). Every file of every output must be identical.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmspec.outputs.content import content_fingerprint
from tests.support.specs import REPO, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DATA_STEPS = ("pages", "text", "quality", "clean", "deduped", "tokenizer", "clean_tokens", "raw_tokens")


def _run(folder: Path, root: str, *args: str) -> None:
    done = run_cli(
        "run", "quickstart.toml", "--root", root, "--quiet", "--until", "clean_tokens", "raw_tokens", *args, cwd=folder
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _outputs(root: Path) -> dict[str, Path]:
    return {
        p.name.rpartition("-")[0]: p for p in root.iterdir() if p.is_dir() and p.name.rpartition("-")[0] in DATA_STEPS
    }


def _files(output: Path) -> dict[str, bytes]:
    skip = {"_SUCCESS", "lmspec-step.json", "lmspec-step.log"}
    return {
        str(p.relative_to(output)): p.read_bytes()
        for p in sorted(output.rglob("*"))
        if p.is_file() and p.name not in skip
    }


def test_quickstart_data_steps_are_byte_deterministic(tmp_path: Path) -> None:
    shutil.copy(REPO / "examples" / "quickstart.toml", tmp_path)
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart_data.py"), str(tmp_path / "data" / "quickstart")],
        check=True,
        capture_output=True,
    )
    _run(tmp_path, "one")
    _run(tmp_path, "two")
    two_workers = [f"--set=steps.{step}.workers=2" for step in DATA_STEPS]
    _run(tmp_path, "workers", *two_workers, "--allow-runner-processes")

    first = _outputs(tmp_path / "one")
    assert set(first) == set(DATA_STEPS)
    for other in ("two", "workers"):
        outputs = _outputs(tmp_path / other)
        for step in DATA_STEPS:
            assert outputs[step].name == first[step].name  # execution-only settings: the same identity
            theirs, ours = _files(outputs[step]), _files(first[step])
            assert theirs.keys() == ours.keys(), (other, step)
            differing = [name for name in ours if ours[name] != theirs[name]]
            assert not differing, f"{step} under {other}: {differing} differ"
            assert content_fingerprint(outputs[step]) == content_fingerprint(first[step])
