"""`lmspec diff SPEC --against REV` reads the spec at REV: from a subfolder too, with what it extends, and
without unpacking the data a repository tracks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lmspec.compiler.revisions import spec_at_revision
from lmspec.errors import UsageError


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """specs/spec.toml extends base/model.yaml; data/shard.bin is tracked too."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "base").mkdir()
    (tmp_path / "data").mkdir()
    (tmp_path / "specs/spec.toml").write_text('[experiment]\nname = "x"\nextends = ["../base/model.yaml"]\n')
    (tmp_path / "base/model.yaml").write_text("vars:\n  seq_len: 64\n")
    (tmp_path / "data/shard.bin").write_bytes(b"\0" * 1024)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=a@b.c", "-c", "user.name=A", "commit", "-q", "-m", "base")
    (tmp_path / "specs/spec.toml").write_text('[experiment]\nname = "changed"\n')
    return tmp_path


def test_a_spec_in_a_subfolder_is_read_with_what_it_extends(repo: Path) -> None:
    with spec_at_revision(repo / "specs/spec.toml", "HEAD") as old:
        assert 'name = "x"' in old.read_text()
        assert (old.parent.parent / "base/model.yaml").read_text() == "vars:\n  seq_len: 64\n"
        assert not (old.parent.parent / "data").exists()  # no spec file: not unpacked


def test_a_spec_missing_at_the_revision_is_a_usage_error(repo: Path) -> None:
    (repo / "specs/new.toml").write_text('[experiment]\nname = "new"\n')
    with (
        pytest.raises(UsageError, match=r"specs/new\.toml does not exist at HEAD"),
        spec_at_revision(repo / "specs/new.toml", "HEAD"),
    ):
        pass
