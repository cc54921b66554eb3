"""Raw inputs enter a step's identity by content: same path with other bytes is another step."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler import inputs as inputs_module
from lmspec.compiler.inputs import DigestCache, fingerprint_inputs

SPEC = """
[experiment]
name = "inputs"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"

[steps.clean]
kind = "filter"
input = "@docs"
rules = [{ kind = "length", min_chars = 3 }]
"""


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMSPEC_CACHE_DIR", str(tmp_path / "cache"))


def project(folder: Path, content: str) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "x.jsonl").write_text(content)
    (folder / "spec.toml").write_text(SPEC)
    return folder / "spec.toml"


def hashes(spec: Path) -> dict[str, str]:
    return {step.name: step.hash for step in compile_spec(spec, str(spec.parent / "runs")).steps}


def test_same_path_other_content_is_another_step(tmp_path: Path) -> None:
    first = hashes(project(tmp_path / "a", '{"text": "one"}\n'))
    second = hashes(project(tmp_path / "b", '{"text": "two"}\n'))
    twin = hashes(project(tmp_path / "c", '{"text": "one"}\n'))
    assert first["docs"] != second["docs"]
    assert first["clean"] != second["clean"]  # downstream follows
    assert twin == first  # content, not the folder, is the identity: a copy reuses the cached output


def test_editing_in_place_changes_the_hash_and_touching_does_not(tmp_path: Path) -> None:
    spec = project(tmp_path, '{"text": "one"}\n')
    before = hashes(spec)
    data = tmp_path / "data" / "x.jsonl"
    os.utime(data, ns=(1, 1))  # another mtime, same bytes: read again, same digest
    assert hashes(spec) == before
    data.write_text('{"text": "one!"}\n')
    assert hashes(spec)["docs"] != before["docs"]
    plan = compile_spec(spec, str(tmp_path / "runs"))
    assert plan.step("docs").fingerprint["data"] == {"data/x.jsonl": inputs_module._file_sha256(str(data))}


def test_an_unchanged_input_is_checked_by_stat_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = project(tmp_path, '{"text": "one"}\n')
    hashes(spec)
    reads: list[str] = []
    real = inputs_module._file_sha256
    monkeypatch.setattr(inputs_module, "_file_sha256", lambda path: reads.append(path) or real(path))
    hashes(spec)
    assert reads == []
    (tmp_path / "data" / "y.jsonl").write_text('{"text": "new file"}\n')
    hashes(spec)
    assert [Path(p).name for p in reads] == ["y.jsonl"]


def test_missing_and_remote_inputs(tmp_path: Path) -> None:
    cache = DigestCache(tmp_path / "cache.sqlite")
    (tmp_path / "remote.jsonl").write_text("{}\n")
    url = (tmp_path / "remote.jsonl").as_uri()
    found = fingerprint_inputs([("nothing/*.jsonl", False), (url, False)], tmp_path, cache)
    assert found["nothing/*.jsonl"] == "missing"
    assert found[url].startswith("size:3:modified:")  # the local filesystem has no checksum: size and mtime
    os.utime(tmp_path / "remote.jsonl", ns=(5, 5))
    assert fingerprint_inputs([(url, False)], tmp_path, cache)[url] != found[url]


def test_hub_dataset_offline_is_planned_with_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    found = fingerprint_inputs([("someone/some-dataset", True)], tmp_path, DigestCache(tmp_path / "c.sqlite"))
    assert found == {"hf://datasets/someone/some-dataset": "unreachable"}
    assert "cannot fingerprint hf://datasets/someone/some-dataset" in capsys.readouterr().err


def test_an_unwritable_cache_is_skipped(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    cache = DigestCache(blocked / "cache.sqlite")
    (tmp_path / "x.jsonl").write_text("{}\n")
    assert fingerprint_inputs([("x.jsonl", False)], tmp_path, cache)["x.jsonl"].startswith("sha256:")
