"""Spec file -> validated, expanded spec -> Plan. Pure: no engine is imported here."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmspec.compiler.expand import expand
from lmspec.compiler.identity import fingerprint, step_hash
from lmspec.compiler.inputs import DigestCache, cache_path, fingerprint_inputs
from lmspec.compiler.overrides import Override
from lmspec.compiler.plan import Plan, StepPlan, join, normalize_root
from lmspec.compiler.validate import ValidSpec, validate
from lmspec.errors import UsageError
from lmspec.schemas.kinds import kind_name
from lmspec.schemas.references import raw_inputs

DEFAULT_ROOT = "./lmspec-runs"

__all__ = ["DEFAULT_ROOT", "Plan", "StepPlan", "check", "compile_spec", "default_root"]


def default_root() -> str:
    """`$LMSPEC_ROOT`, else `./lmspec-runs`."""
    return os.environ.get("LMSPEC_ROOT") or DEFAULT_ROOT


def check(path: Path, overrides: tuple[Override, ...] = ()) -> ValidSpec | None:
    """Validate one spec file (with command-line overrides); raises SpecError listing every problem. None for
    a valid fragment."""
    return validate(expand(path, overrides))


def compile_spec(path: Path, root: str | None = None, overrides: tuple[Override, ...] = ()) -> Plan:
    """Validate and compile `path` (with command-line overrides) into a Plan whose outputs live under `root`."""
    valid = check(path, overrides)
    if valid is None:
        raise UsageError(
            f"{path} is a fragment (it has no [experiment] table): other specs can extend it, "
            "but it cannot be compiled or run on its own"
        )
    resolved_root = normalize_root(root or default_root())
    hashes: dict[str, str] = {}
    steps = []
    spec_dir = path.resolve().parent
    cache = DigestCache(cache_path())
    for name in valid.order:
        config = valid.spec.steps[name]
        inputs = valid.inputs[name]
        data = fingerprint_inputs(raw_inputs(type(config), config.model_dump()), spec_dir, cache)
        fp = fingerprint(config, {i: hashes[i] for i in inputs}, data)
        hashes[name] = step_hash(fp)
        steps.append(
            StepPlan(
                name=name,
                kind=kind_name(type(config)),
                config=config,
                inputs=inputs,
                hash=hashes[name],
                output_path=join(resolved_root, f"{name}-{hashes[name]}"),
                fingerprint=fp,
            )
        )
    cache.close()
    return Plan(
        spec_file=str(path),
        experiment=valid.spec.experiment,
        root=resolved_root,
        steps=tuple(steps),
        overrides=tuple(o.flag + ("" if o.unset else f"={json.dumps(o.value)}") for o in overrides),
    )
