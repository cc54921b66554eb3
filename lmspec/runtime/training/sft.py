"""`sft`: supervised fine-tuning with MaxText's native SFT trainer (`train_sft_native`: its pre-training loop with
`use_sft`, which masks the prompt's tokens out of the loss under `sft_train_on_completion_only`)."""

from __future__ import annotations

from lmspec.outputs.chat import CONVERSATIONS, conversations, prepared_file
from lmspec.outputs.documents import Documents
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.chat import write_conversations
from lmspec.runtime.training.post_training import finish, start
from lmspec.schemas.post_training import Sft


@executes(Sft)
def sft(ctx: StepContext[Sft]) -> StepResult:
    started = start(ctx)
    chats = list(conversations(ctx.input(ctx.spec.data, Documents)))
    for where, messages in chats:  # every record, before training: MaxText would fail at it mid-run
        started.renderer.check_turns(messages, where)
    written = write_conversations(prepared_file(ctx.resume_dir, CONVERSATIONS, 0), (m for _, m in chats))
    return finish(ctx, started, written, "conversations")
