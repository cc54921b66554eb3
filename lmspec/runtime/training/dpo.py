"""`dpo`: direct preference optimisation with MaxText's own DPO trainer (Tunix's `DPOTrainer`), run as a child
process through `dpo_maxtext`, on the preference pairs rendered with the step's chat template."""

from __future__ import annotations

from lmspec.outputs.chat import PAIRS, preference_pairs, prepared_file
from lmspec.outputs.documents import Documents
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.chat import write_pairs
from lmspec.runtime.training.post_training import finish, start
from lmspec.schemas.post_training import Dpo


@executes(Dpo)
def dpo(ctx: StepContext[Dpo]) -> StepResult:
    started = start(ctx)
    pairs = preference_pairs(ctx.input(ctx.spec.data, Documents))
    written = write_pairs(prepared_file(ctx.resume_dir, PAIRS, 0), started.renderer, pairs)
    return finish(ctx, started, written, "pairs")
