"""The rules a submission's compiled plan must keep on its track, each broken one a (field path, message) pair.

A submission may change anything about its one training step and nothing else: the track's fixed steps
(data, tokenizer, tokenization, evaluation) must compile to the fingerprints the track's own tables give,
the training step must read the track's data and fit its FLOPs budget on its hardware class. Comparing
fingerprints rather than file text catches every way of changing a step (an override in the submission,
an edited `track/steps.toml`, a copy of the steps with one field changed) and names the field that differs.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import TypeAdapter

from lmspec.compiler.budget import show
from lmspec.compiler.estimates import TrainEstimate
from lmspec.compiler.identity import fingerprint, fingerprint_diff
from lmspec.compiler.plan import Plan, StepPlan
from lmspec.compiler.source_map import DataPath
from lmspec.schemas import StepBase, step_union
from lmspec.schemas.references import raw_inputs
from lmspec.schemas.training import MaxTextTraining
from lmspec.speedrun.track import Track
from lmspec.speedrun.workspace import STEPS_NAME, WORKSPACE, corpus_key

Problem = tuple[DataPath, str]
TRACK_STEPS = f"{WORKSPACE}/{STEPS_NAME}"


def training_problems(plan: Plan, track: Track) -> list[Problem]:
    """Exactly one training step, named as the track's evaluation expects, and no step the track lacks."""
    training = [s.name for s in plan.steps if isinstance(s.config, MaxTextTraining)]
    fixed = track.fixed_steps()
    problems: list[Problem] = [
        (("steps", s.name), f"a submission adds one training step to the track's steps, nothing else: drop `{s.name}`")
        for s in plan.steps
        if s.name not in fixed and s.name not in training
    ]
    if not training:
        problems.append(
            (("steps",), f'a submission trains one model: add a `{track.model_step}` step (kind = "train")')
        )
    elif len(training) > 1:
        listed = ", ".join(f"`{name}`" for name in training)
        problems.extend(
            (
                ("steps", name),
                f"a submission trains one model, but {listed} are training steps: keep one, `{track.model_step}`",
            )
            for name in training[1:]
        )
    elif training[0] != track.model_step:
        problems.append(
            (
                ("steps", training[0]),
                f"the track evaluates `@{track.model_step}`: name the training step `{track.model_step}`",
            )
        )
    return problems


def fixed_step_problems(plan: Plan, track: Track) -> list[Problem]:
    """Each of the track's steps present and hashed exactly as the track's own table of it."""
    hashes = {s.name: s.hash for s in plan.steps}
    problems: list[Problem] = []
    for name, table in track.fixed_steps().items():
        if name not in hashes:
            problems.append(
                (
                    ("experiment",),
                    f"the track's step `{name}` is missing: extend the track's steps with "
                    f'extends = ["{TRACK_STEPS}"] under [experiment]',
                )
            )
            continue
        step = plan.step(name)
        expected = _expected_fingerprint(_STEP.validate_python(table), step, hashes, track)
        differences = fingerprint_diff(expected, step.fingerprint)
        if differences:
            what = "evaluation" if name == track.eval_step else "data"
            problems.append(
                (
                    ("steps", name, *_first_field(differences)),
                    f"changes the track's {what}: `{name}` is one of the {track.name} track's fixed steps "
                    f"({TRACK_STEPS}), which a submission may not change ({'; '.join(differences[:3])}); "
                    "remove the change",
                )
            )
    return problems


def data_problems(plan: Plan, track: Track) -> list[Problem]:
    """The training step reads the track's data and nothing else."""
    config = training_config(plan, track)
    if config is None or config.mixture() == {track.data: 1.0}:
        return []
    return [
        (
            ("steps", track.model_step, "data"),
            f'the {track.name} track trains on its own data: set data = "{track.data}"',
        )
    ]


def budget_problems(plan: Plan, track: Track, estimate: TrainEstimate | None) -> list[Problem]:
    """The training step's 6·N·D FLOPs within the track's budget, on the track's hardware class."""
    config, name = training_config(plan, track), track.model_step
    if config is None or estimate is None:
        return []
    problems: list[Problem] = []
    flops = estimate.estimate.flops
    if flops > track.flops_budget:
        field = "tokens" if config.tokens is not None else "steps"
        problems.append(
            (
                ("steps", name, field),
                f"over the {track.name} track's budget: `{name}` is estimated at {show('flops', flops)} "
                f"(6 x {estimate.estimate.active_parameters or estimate.estimate.parameters:,} parameters x "
                f"{estimate.estimate.tokens:,} tokens), the budget is {show('flops', track.flops_budget)}; "
                "lower steps, tokens, batch_size or the model's size",
            )
        )
    resources = config.resources
    wanted = track.hardware
    if resources.accelerator != wanted.accelerator or (wanted.type is not None and resources.type != wanted.type):
        problems.append(
            (
                ("steps", name, "resources"),
                f"the {track.name} track runs on {wanted.describe()} (its hardware class, so wall times compare): "
                f'set resources = {{ accelerator = "{wanted.accelerator}"'
                + (f', type = "{wanted.type}"' if wanted.type else "")
                + " }",
            )
        )
    return problems


_STEP: TypeAdapter[Any] = TypeAdapter(step_union())


def _expected_fingerprint(config: StepBase, step: StepPlan, hashes: dict[str, str], track: Track) -> dict[str, Any]:
    """What the track's table of a step hashes to with the plan's inputs: a generated corpus by its pinned
    digest; data from elsewhere (the Hub) by what the plan resolved, since only its config is the track's."""
    if not raw_inputs(type(config), config.model_dump()):
        data: dict[str, str] = {}
    elif track.corpus is not None:
        data = {corpus_key(track.corpus): f"sha256:{track.corpus.sha256}"}
    else:
        data = dict(step.fingerprint.get("data", {}))
    return fingerprint(config, hashes, data)


def _first_field(differences: list[str]) -> DataPath:
    """`config.rules[0].min: 1 -> 2` -> ("rules", 0, "min"): where in the step the first difference is."""
    path = differences[0].split(":", 1)[0]
    if not path.startswith("config."):
        return ()
    return tuple(int(part) if part.isdigit() else part for part in re.findall(r"[^.\[\]]+", path[len("config.") :]))


def training_config(plan: Plan, track: Track) -> MaxTextTraining | None:
    """The submission's training step (the one named as the track expects), if it has one."""
    for step in plan.steps:
        if step.name == track.model_step and isinstance(step.config, MaxTextTraining):
            return step.config
    return None
