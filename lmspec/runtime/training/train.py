"""`train`: MaxText pre-training (or continued training) as a child process, resumable, with its curves in the
catalog (the child process, resuming and publishing are `maxtext_run`'s, shared with sft and dpo).

What is train's own: the tokenize outputs it reads (a mixture), the vocabulary they fix, and the flags that
depend on their size.
"""

from __future__ import annotations

from lmspec.compiler.hardware import Slice, resolve_slice
from lmspec.compiler.maxtext import TrainingData, data_size_flags, lower
from lmspec.outputs.model import Flags
from lmspec.outputs.tokens import TokenizedData, TokensInfo
from lmspec.runtime.context import StepContext, StepResult
from lmspec.runtime.registry import executes
from lmspec.runtime.training.maxtext_run import TrainingError, init_checkpoint, publish, train_to_completion
from lmspec.schemas.training import MaxTextTraining, Train


@executes(Train)
def train(ctx: StepContext[Train]) -> StepResult:
    spec = ctx.spec
    data = {ref: ctx.input(ref, TokenizedData) for ref in spec.mixture()}
    infos = {ref: tokens.info() for ref, tokens in data.items()}
    vocab_size = _vocab_size(spec, infos)
    _check_enough_data(spec, infos)
    hardware = resolve_slice(spec.resources.model_dump())
    flags = _flags(spec, ctx, hardware, vocab_size, data, infos)
    _warn_about_data(spec, flags, infos, ctx)
    run = train_to_completion(spec, flags, ctx)
    tokenizer = next(iter(data.values())).tokenizer
    return publish(spec, ctx, tokenizer, vocab_size, hardware.devices, run)


def _flags(
    spec: MaxTextTraining,
    ctx: StepContext[Train],
    hardware: Slice,
    vocab_size: int,
    data: dict[str, TokenizedData],
    infos: dict[str, TokensInfo],
) -> Flags:
    """The compiler's lowering over this execution's paths (what `lmspec compile` shows), completed with
    what depends on the data's size."""
    paths = {ref: str(tokens.path) for ref, tokens in data.items()}
    planned = lower(
        spec,
        hardware=hardware,
        vocab_size=vocab_size,
        data=TrainingData(
            {paths[ref]: weight for ref, weight in spec.mixture().items()},
            append_eos=next(iter(infos.values())).append_eos,
        ),
        work_dir=str(ctx.resume_dir),
        init_checkpoint=init_checkpoint(spec, ctx, vocab_size),
    )
    return {**planned, **data_size_flags(spec, {paths[ref]: info for ref, info in infos.items()})}


def _vocab_size(spec: MaxTextTraining, infos: dict[str, TokensInfo]) -> int:
    tokenizer_sizes = {info.tokenizer.vocab_size for info in infos.values()}
    if len(tokenizer_sizes) > 1:
        raise TrainingError(f"the data mixture's tokenize steps use different tokenizers ({sorted(tokenizer_sizes)})")
    tokenizer_vocab = tokenizer_sizes.pop()
    model_vocab = spec.model.vocab_size or tokenizer_vocab
    if tokenizer_vocab > model_vocab:
        raise TrainingError(
            f"the tokenizer has {tokenizer_vocab} tokens but model.vocab_size is {model_vocab}: token ids past "
            f"the embedding table cannot be trained; set model.vocab_size >= {tokenizer_vocab} or leave it unset"
        )
    return model_vocab


def _check_enough_data(spec: MaxTextTraining, infos: dict[str, TokensInfo]) -> None:
    """One batch at least: MaxText cannot fill a batch from less, and would wait for data forever."""
    batch_tokens = spec.batch_size * spec.model.seq_len
    train_tokens = _train_tokens(infos)
    if train_tokens < batch_tokens:
        raise TrainingError(
            f"the training data is too short: {train_tokens} tokens in the train split of {', '.join(infos)}, "
            f"but one batch of {spec.batch_size} x {spec.model.seq_len} needs {batch_tokens}; add documents, "
            "or lower batch_size or model.seq_len"
        )


def _train_tokens(infos: dict[str, TokensInfo]) -> int:
    return sum(info.train.tokens for info in infos.values())


def _warn_about_data(
    spec: MaxTextTraining, flags: Flags, infos: dict[str, TokensInfo], ctx: StepContext[Train]
) -> None:
    """Say when the run repeats its data, or gets no validation loss although the spec asks for one."""
    if (repeats := int(flags["num_epoch"])) > 1:
        tokens = _train_tokens(infos)
        ctx.log.warning("the train split holds %d tokens; the run repeats it about %d times", tokens, repeats)
    if spec.eval_every and "grain_eval_files" not in flags:
        ctx.log.warning("eval_every is set but the validation splits hold less than one batch; no validation loss")
