"""Spec file -> validated, expanded spec -> Plan. Pure: no engine is imported here."""

from __future__ import annotations

import json
import os
from pathlib import Path

from lmspec.compiler.budget import budget_problems
from lmspec.compiler.expand import expand
from lmspec.compiler.hardware import load_prices
from lmspec.compiler.identity import fingerprint, step_hash
from lmspec.compiler.inputs import DigestCache, cache_path, fingerprint_inputs
from lmspec.compiler.overrides import Override
from lmspec.compiler.plan import Plan, StepPlan, join, normalize_root
from lmspec.compiler.validate import ValidSpec, validate
from lmspec.errors import SpecError, UsageError
from lmspec.schemas.kinds import kind_name
from lmspec.schemas.references import raw_inputs

DEFAULT_ROOT = "./lmspec-runs"

__all__ = ["DEFAULT_ROOT", "Plan", "StepPlan", "check", "compile_spec", "default_root"]


def default_root() -> str:
    """`$LMSPEC_ROOT`, else `./lmspec-runs`."""
    return os.environ.get("LMSPEC_ROOT") or DEFAULT_ROOT


def check(path: Path, overrides: tuple[Override, ...] = ()) -> ValidSpec | None:
    """Validate one spec file (with command-line overrides), its budget included; raises SpecError listing every
    problem. None for a valid fragment."""
    expanded = expand(path, overrides)
    valid = validate(expanded)
    if valid is not None and valid.spec.experiment.budget is not None:
        plan = _plan(valid, path, "/budget", overrides, data_dir=None)
        problems = budget_problems(plan, load_prices(None))
        if problems:
            raise SpecError([expanded.diagnostic(("experiment", "budget", limit), msg) for limit, msg in problems])
    return valid


def compile_spec(
    path: Path, root: str | None = None, overrides: tuple[Override, ...] = (), data_dir: Path | None = None
) -> Plan:
    """Validate and compile `path` (with command-line overrides) into a Plan whose outputs live under `root`.

    Raw inputs are fingerprinted relative to `data_dir` (default: the spec's folder); `lmspec diff --against`
    compiles an old version of a spec against today's data.
    """
    valid = check(path, overrides)
    if valid is None:
        raise UsageError(
            f"{path} is a fragment (it has no [experiment] table): other specs can extend it, "
            "but it cannot be compiled or run on its own"
        )
    return _plan(valid, path, normalize_root(root or default_root()), overrides, data_dir or path.resolve().parent)


def _plan(valid: ValidSpec, path: Path, root: str, overrides: tuple[Override, ...], data_dir: Path | None) -> Plan:
    """Hash every step in order (inputs first); without `data_dir` raw inputs are not fingerprinted."""
    hashes: dict[str, str] = {}
    steps = []
    cache = DigestCache(cache_path()) if data_dir is not None else None
    for name in valid.order:
        config = valid.spec.steps[name]
        inputs = valid.inputs[name]
        raw = raw_inputs(type(config), config.model_dump())
        data = fingerprint_inputs(raw, data_dir, cache) if data_dir is not None and cache is not None else {}
        fp = fingerprint(config, {i: hashes[i] for i in inputs}, data)
        hashes[name] = step_hash(fp)
        steps.append(
            StepPlan(
                name=name,
                kind=kind_name(type(config)),
                config=config,
                inputs=inputs,
                hash=hashes[name],
                output_path=join(root, f"{name}-{hashes[name]}"),
                fingerprint=fp,
            )
        )
    if cache is not None:
        cache.close()
    return Plan(
        spec_file=str(path),
        experiment=valid.spec.experiment,
        root=root,
        steps=tuple(steps),
        overrides=tuple(o.flag + ("" if o.unset else f"={json.dumps(o.value)}") for o in overrides),
    )
