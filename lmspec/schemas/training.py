"""Tokenizer training, tokenization and MaxText model training."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from lmspec.schemas.base import (
    DocumentsRef,
    ModelRef,
    OutputKind,
    Problems,
    SpecModel,
    StepBase,
    TokenizerRefOrPath,
    TokensRef,
    added_later,
    execution_only,
)
from lmspec.schemas.kinds import step_kind


@step_kind(executor="lmspec.runtime.training.tokenizer")
class TrainTokenizer(StepBase):
    """Train a byte-level BPE (or unigram) tokenizer with Hugging Face tokenizers."""

    kind: Literal["train_tokenizer"]
    output: ClassVar[OutputKind] = "tokenizer"

    input: DocumentsRef
    """Documents to learn the vocabulary from."""
    vocab_size: int = Field(default=8192, ge=256, le=1_048_576)
    """Vocabulary size, special tokens included."""
    algorithm: Literal["bpe", "unigram"] = "bpe"
    """Tokenizer model."""
    max_documents: int | None = Field(default=None, ge=1)
    """Train on at most this many documents; None uses all."""
    special_tokens: list[str] = Field(default_factory=lambda: ["<s>", "</s>", "<pad>"])
    """Special tokens, in id order: beginning of sequence, end of sequence, padding."""

    def cross_field_errors(self) -> Problems:
        if len(self.special_tokens) < 2:
            return [
                (
                    ("special_tokens",),
                    f"needs a beginning- and an end-of-sequence token, in that order; got {self.special_tokens}",
                )
            ]
        return []


@step_kind(executor="lmspec.runtime.training.tokenize")
class Tokenize(StepBase):
    """Split documents into train/validation and write them in the format MaxText's input pipeline reads."""

    kind: Literal["tokenize"]
    output: ClassVar[OutputKind] = "tokens"

    input: DocumentsRef
    """The documents to tokenize."""
    tokenizer: TokenizerRefOrPath
    """A train_tokenizer step (`"@name"`) or a local directory holding a Hugging Face tokenizer.json."""
    validation_fraction: float = Field(default=0.01, ge=0.0, lt=0.5)
    """Share of documents held out for validation loss and bits-per-byte."""
    append_eos: bool = True
    """End every document with the end-of-sequence token."""
    seed: int = Field(default=0, ge=0)
    """Seed of the train/validation split."""


MODEL_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {
        "emb_dim": 128,
        "num_layers": 2,
        "num_heads": 4,
        "num_kv_heads": 4,
        "mlp_dim": 512,
        "head_dim": 32,
        "seq_len": 128,
    },
    "small": {
        "emb_dim": 256,
        "num_layers": 4,
        "num_heads": 4,
        "num_kv_heads": 4,
        "mlp_dim": 1024,
        "head_dim": 64,
        "seq_len": 256,
    },
    "base": {
        "emb_dim": 512,
        "num_layers": 8,
        "num_heads": 8,
        "num_kv_heads": 8,
        "mlp_dim": 2048,
        "head_dim": 64,
        "seq_len": 512,
    },
    "150m": {  # GPT-2-medium-like width and depth with a Llama block (~150M parameters at a 32k vocabulary)
        "emb_dim": 768,
        "num_layers": 12,
        "num_heads": 12,
        "num_kv_heads": 12,
        "mlp_dim": 2048,
        "head_dim": 64,
        "seq_len": 1024,
    },
    "1b": {  # Llama 3.2 1B
        "emb_dim": 2048,
        "num_layers": 16,
        "num_heads": 32,
        "num_kv_heads": 8,
        "mlp_dim": 8192,
        "head_dim": 64,
        "seq_len": 2048,
    },
    "8b": {  # Llama 3 8B
        "emb_dim": 4096,
        "num_layers": 32,
        "num_heads": 32,
        "num_kv_heads": 8,
        "mlp_dim": 14336,
        "head_dim": 128,
        "seq_len": 4096,
    },
}
"""Llama-style decoder sizes. A preset's numbers are resolved into the config, so they are hashed."""

MAX_STEPS = 2**31 - 1
"""MaxText counts optimizer steps in a 32-bit integer (JAX's default int)."""
MAX_TOKENS = 2**53
"""Token budgets are turned into steps and FLOPs through floats: past 2**53 they are no longer exact."""
MAX_BATCH = 2**20
"""About a million sequences per step: far past any published run, and past it the cost estimate is a typo."""
MAX_SEED = 2**32 - 1
"""NumPy and grain take 32-bit unsigned seeds."""
MAX_EXPERTS = 1024
"""Past published MoE models (DeepSeek-V3: 256 routed experts) by a margin; more is a typo."""

PresetName = Literal["tiny", "small", "base", "150m", "1b", "8b"]


class ModelConfig(SpecModel):
    """A Llama-style decoder: a preset, with any dimension overridden."""

    preset: PresetName = "tiny"
    """Starting sizes (see MODEL_PRESETS); any field set here overrides the preset."""
    emb_dim: int = Field(default=0, ge=8)
    """Model (embedding) width."""
    num_layers: int = Field(default=0, ge=1)
    """Decoder layers."""
    num_heads: int = Field(default=0, ge=1)
    """Query heads."""
    num_kv_heads: int = Field(default=0, ge=1)
    """Key/value heads (fewer than num_heads gives grouped-query attention)."""
    mlp_dim: int = Field(default=0, ge=8)
    """Hidden width of the MLP."""
    head_dim: int = Field(default=0, ge=4)
    """Width of one attention head."""
    seq_len: int = Field(default=0, ge=8, le=131_072)
    """Training sequence length in tokens."""
    vocab_size: int | None = Field(default=None, ge=256)
    """None takes the tokenizer's vocabulary size."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Activation dtype (float32 is about twice as fast as bfloat16 on CPU)."""
    num_experts: int = added_later(default=1, ge=1, le=MAX_EXPERTS)
    """Experts per layer: 1 is a dense MLP; more makes every layer's MLP a routed mixture of experts of width
    `mlp_dim` each (OLMoE/Qwen3-MoE style; MaxText's qwen3_moe block)."""
    experts_per_token: int = added_later(default=1, ge=1, le=MAX_EXPERTS)
    """Experts each token is routed to (top-k); at most `num_experts`."""
    post_attn_norm: bool = added_later(default=False)
    """Hybrid norm: an RMSNorm on the output of attention and of the MLP before each joins the residual stream
    (OLMo 2's placement; MaxText's olmo3 block, its sliding windows as wide as the sequence)."""
    qk_norm: bool = added_later(default=False)
    """RMSNorm on the queries and keys before attention (Qwen3, OLMo 2)."""

    @model_validator(mode="before")
    @classmethod
    def _fill_from_preset(cls, data: Any) -> Any:
        """Put the preset's sizes under whatever the user set, so the hash covers the real sizes."""
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", "tiny")
        # A misspelled preset is reported on its own: the tiny sizes stand in, so no size says "got 0".
        sizes = MODEL_PRESETS.get(preset, MODEL_PRESETS["tiny"]) if isinstance(preset, str) else MODEL_PRESETS["tiny"]
        return {**sizes, **data}

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 1

    def cross_field_errors(self) -> Problems:
        problems: Problems = []
        if self.num_heads % self.num_kv_heads:
            problems.append((("num_kv_heads",), f"must divide num_heads ({self.num_heads}), got {self.num_kv_heads}"))
        if self.experts_per_token > self.num_experts:
            problems.append(
                (
                    ("experts_per_token",),
                    f"routes each token to more experts than the {self.num_experts} there are; "
                    f"set num_experts >= {self.experts_per_token} or lower experts_per_token",
                )
            )
        if self.post_attn_norm and self.is_moe:
            problems.append(
                (
                    ("post_attn_norm",),
                    "MaxText has no decoder block with both routed experts and post-attention norms "
                    "(its olmo3 block is dense): drop one of post_attn_norm or num_experts",
                )
            )
        return problems


class Optimizer(SpecModel):
    """The optimizer and its regularisers."""

    name: Literal["adamw", "sgd"] = "adamw"
    """Optimizer algorithm."""
    lr: float = Field(default=3e-4, gt=0.0, le=10.0)
    """Peak learning rate."""
    weight_decay: float = Field(default=0.0, ge=0.0, le=10.0)
    """Decoupled weight decay."""
    beta1: float = Field(default=0.9, ge=0.0, lt=1.0)
    """Adam first-moment decay."""
    beta2: float = Field(default=0.95, ge=0.0, lt=1.0)
    """Adam second-moment decay."""
    eps: float = Field(default=1e-8, gt=0.0, le=1.0)
    """Adam epsilon."""
    z_loss: float = Field(default=0.0, ge=0.0, le=1.0)
    """Weight of the z-loss (log^2 of the softmax normaliser); 0 turns it off."""
    grad_clip: float = Field(default=1.0, ge=0.0)
    """Clip the global gradient norm to this; 0 turns clipping off."""


class CosineSchedule(SpecModel):
    """Linear warm-up, then cosine decay to `min_lr_ratio * lr`."""

    kind: Literal["cosine"]
    warmup_steps: int = Field(default=0, ge=0)
    """Steps of linear warm-up from 0."""
    min_lr_ratio: float = Field(default=0.1, ge=0.0, le=1.0)
    """Final learning rate as a fraction of the peak."""


class ConstantSchedule(SpecModel):
    """Linear warm-up, then a constant learning rate."""

    kind: Literal["constant"]
    warmup_steps: int = Field(default=0, ge=0)
    """Steps of linear warm-up from 0."""


class LinearSchedule(SpecModel):
    """Linear warm-up, then a linear decay to `min_lr_ratio * lr` over all remaining steps."""

    kind: Literal["linear"]
    warmup_steps: int = Field(default=0, ge=0)
    """Steps of linear warm-up from 0."""
    min_lr_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    """Final learning rate as a fraction of the peak."""


class WsdSchedule(SpecModel):
    """Warm-up, stable, decay: constant after warm-up, then a linear decay over the last `decay_fraction`."""

    kind: Literal["wsd"]
    warmup_steps: int = Field(default=0, ge=0)
    """Steps of linear warm-up from 0."""
    decay_fraction: float = Field(default=0.2, gt=0.0, le=1.0)
    """Share of the steps spent decaying."""
    min_lr_ratio: float = Field(default=0.0, ge=0.0, le=1.0)
    """Final learning rate as a fraction of the peak."""


Schedule = Annotated[CosineSchedule | ConstantSchedule | LinearSchedule | WsdSchedule, Field(discriminator="kind")]


class MaxTextTraining(StepBase):
    """What MaxText needs to train a decoder, shared by every kind that trains one (`train`; `sft`, `dpo`).

    The lowering to MaxText (`lmspec.compiler.maxtext`) and the cost estimates take this base, so a new
    training kind subclasses it and adds only its own `kind` and `data`. Those two are declared here
    first and narrowed by each kind so that every training kind lists its fields in one order (kind,
    data, then these): the JSON Schema's `required` list follows it.
    """

    kind: str
    """The training kind; each kind narrows it to its own name."""
    data: object
    """What the kind trains on; each kind narrows it and says, in `mixture`, which tokenize steps it reads."""
    model: ModelConfig = Field(default_factory=lambda: ModelConfig.model_validate({}))
    """Architecture and sizes."""
    optimizer: Optimizer = Field(default_factory=lambda: Optimizer.model_validate({}))
    """Optimizer and regularisers."""
    schedule: Schedule = Field(default_factory=lambda: CosineSchedule(kind="cosine"))
    """Learning-rate schedule."""
    steps: int | None = Field(default=None, ge=1, le=MAX_STEPS)
    """Optimizer steps to train for; give this or `tokens`."""
    tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS)
    """Token budget instead of `steps`: steps = ceil(tokens / (batch_size * seq_len))."""
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    """Sequences per optimizer step (global batch)."""
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    """Seed of initialisation and data order."""
    init_from: ModelRef | None = None
    """Initialise weights from another train step's final checkpoint (e.g. a cooldown); None starts from scratch."""
    trainer: ClassVar[str] = "maxtext.trainers.pre_train.train"
    """The module the kind's executor runs as a child process (`python -m`); it sets the kind's MaxText mode."""

    eval_every: int | None = Field(default=None, ge=1, le=MAX_STEPS)
    """Compute validation loss every N steps; None only at the end."""
    checkpoint_every: int | None = execution_only(default=None, ge=1, le=MAX_STEPS)
    """Save a checkpoint every N steps (the final one is always saved); execution-only."""

    def mixture(self) -> dict[str, float]:
        """The tokenize steps the run reads, `"@name"` -> weight, in the spec's order."""
        raise NotImplementedError(f"{type(self).__name__} must say which tokenize steps it reads")

    @property
    def total_steps(self) -> int:
        """Optimizer steps, from `steps` or from the token budget."""
        if self.steps is not None:
            return self.steps
        per_step = self.batch_size * self.model.seq_len
        return max(1, -(-(self.tokens or 0) // per_step))

    @property
    def final_step(self) -> int:
        """The last step (MaxText counts from 0), where the final checkpoint is saved."""
        return self.total_steps - 1

    @property
    def total_tokens(self) -> int:
        """Tokens seen in training: steps x batch x sequence length."""
        return self.total_steps * self.batch_size * self.model.seq_len

    def cross_field_errors(self) -> Problems:
        problems: Problems = []  # the model's own rules are checked with every nested model's (compiler/validate)
        if (self.steps is None) == (self.tokens is None):
            problems.append((("steps",), "give exactly one of `steps` or `tokens` (a token budget)"))
            return problems
        if self.total_steps > MAX_STEPS:
            problems.append((("tokens",), f"makes {self.total_steps:,} steps; MaxText counts at most {MAX_STEPS:,}"))
            return problems
        if self.schedule.warmup_steps >= self.total_steps:
            problems.append(
                (
                    ("schedule", "warmup_steps"),
                    f"must be less than the {self.total_steps} training steps, got {self.schedule.warmup_steps}",
                )
            )
        elif isinstance(self.schedule, WsdSchedule):
            decay = int(self.total_steps * self.schedule.decay_fraction)
            if self.schedule.warmup_steps + decay > self.total_steps:
                problems.append(
                    (
                        ("schedule", "decay_fraction"),
                        f"warm-up ({self.schedule.warmup_steps}) plus decay ({decay}) steps exceed the "
                        f"{self.total_steps} training steps; lower one of them",
                    )
                )
        if self.optimizer.name == "sgd" and self.optimizer.weight_decay:
            problems.append(
                (("optimizer", "weight_decay"), 'MaxText\'s sgd has no weight decay; use name = "adamw" or set it to 0')
            )
        return problems


@step_kind(executor="lmspec.runtime.training.train")
class Train(MaxTextTraining):
    """Pre-train (or continue training) a decoder with MaxText."""

    kind: Literal["train"]
    output: ClassVar[OutputKind] = "model"

    data: TokensRef | dict[TokensRef, Annotated[float, Field(gt=0.0)]]
    """A tokenize step, or a mixture `{ "@a" = 0.7, "@b" = 0.3 }` (weights are normalised)."""

    def mixture(self) -> dict[str, float]:
        return {self.data: 1.0} if isinstance(self.data, str) else dict(self.data)
