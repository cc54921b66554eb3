"""Benchmark: fingerprinting a large input folder, first time (streams every byte) and unchanged (stat only),
side by side with DVC doing the same for its dependencies (`dvc add`, then `dvc status`).

Target (issue 12): a 10 GB input folder re-checked in under 1 s when unchanged.

    python bench/input_fingerprint.py [--gib 10] [--files 160] [--dvc /path/to/dvc] [--folder DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPEC = '[experiment]\nname = "fp"\n\n[steps.docs]\nkind = "ingest"\npaths = ["data/**/*.jsonl"]\nformat = "jsonl"\n'


def make_folder(folder: Path, gib: float, files: int) -> None:
    """`files` files of random bytes, `gib` GiB in all (written once; reused when the folder exists)."""
    data = folder / "data"
    if data.exists() and len(list(data.rglob("*.jsonl"))) == files:
        return
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    block = os.urandom(64 * 2**20)
    per_file = int(gib * 2**30 / files)
    for i in range(files):
        with (data / f"part-{i:05d}.jsonl").open("wb") as f:
            f.write(i.to_bytes(8, "big"))  # every file differs
            written = 8
            while written < per_file:
                chunk = block[: per_file - written]
                f.write(chunk)
                written += len(chunk)


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gib", type=float, default=10.0)
    parser.add_argument("--files", type=int, default=160)
    parser.add_argument("--dvc", help="a dvc executable, to measure the peer in the same run")
    parser.add_argument("--folder", type=Path, help="where to build the input folder (default: a temp dir)")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="lmspec-fp-"))
    make_folder(folder, args.gib, args.files)
    (folder / "spec.toml").write_text(SPEC)
    env = {**os.environ, "LMSPEC_CACHE_DIR": str(folder / ".lmspec-cache")}
    shutil.rmtree(folder / ".lmspec-cache", ignore_errors=True)
    compile_ = [sys.executable, "-m", "lmspec.cli", "compile", "spec.toml", "--format", "json", "--root", "runs"]
    baseline = [sys.executable, "-m", "lmspec.cli", "validate", "spec.toml"]
    rows = [
        ("lmspec compile, first fingerprint (streams)", timed(compile_, folder, env)),
        ("lmspec compile, unchanged (stat only)", min(timed(compile_, folder, env) for _ in range(5))),
        ("lmspec validate (no fingerprinting: process floor)", min(timed(baseline, folder, env) for _ in range(5))),
    ]
    if args.dvc:
        shutil.rmtree(folder / ".dvc", ignore_errors=True)
        (folder / "data.dvc").unlink(missing_ok=True)
        subprocess.run([args.dvc, "init", "--no-scm", "-q"], cwd=folder, check=True)
        subprocess.run([args.dvc, "config", "cache.type", "hardlink,symlink"], cwd=folder, check=True)
        rows.append(("dvc add data, first hash", timed([args.dvc, "add", "-q", "data"], folder)))
        rows.append(("dvc status, unchanged", min(timed([args.dvc, "status", "-q"], folder) for _ in range(5))))
    size = sum(p.stat().st_size for p in (folder / "data").rglob("*.jsonl")) / 2**30
    print(f"{size:.1f} GiB in {args.files} files at {folder}")
    for name, seconds in rows:
        print(f"  {name:<52} {seconds:7.2f} s")


if __name__ == "__main__":
    main()
