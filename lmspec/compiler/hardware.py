"""Accelerators: how many devices a `resources` table means, and what a training run costs on them.

The estimates are the usual back-of-the-envelope ones: training FLOPs ~= 6 * N * D (N parameters,
D tokens), time = FLOPs / (devices * peak * MFU), cost = hours * devices * price. The table holds
public list prices and dense bf16 peaks as of 2026; a team overrides any entry, or adds its own, with a
TOML file (`lmspec compile --prices FILE` or `$LMSPEC_PRICES`):

    [h100]
    price_per_hour = 2.10   # per device
    mfu = 0.45
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from lmspec.errors import UsageError


@dataclass(frozen=True)
class Accelerator:
    """One device kind: a GPU, a TPU chip, or (for `cpu`) one whole machine."""

    family: str
    """`cpu`, `gpu` or `tpu`."""
    peak_tflops: float
    """Dense bf16 peak per device, in TFLOP/s."""
    mfu: float
    """Model FLOPs utilisation to assume: the share of the peak training really reaches."""
    price_per_hour: float
    """On-demand US dollars per device-hour."""
    devices_per_host: int
    """Devices one host drives; more than this is a multi-host job."""


ACCELERATORS: dict[str, Accelerator] = {
    # 2 cores of a small VM: MaxText's tiny preset reached ~0.03 TFLOP/s here (bench/README.md).
    "cpu": Accelerator("cpu", peak_tflops=0.2, mfu=0.15, price_per_hour=0.10, devices_per_host=1),
    # The 150m preset measured 0.33 on one H100 (bench/README.md); wider models fill the chip better.
    "h100": Accelerator("gpu", peak_tflops=989.0, mfu=0.40, price_per_hour=3.00, devices_per_host=8),
    "h200": Accelerator("gpu", peak_tflops=989.0, mfu=0.45, price_per_hour=3.80, devices_per_host=8),
    "a100": Accelerator("gpu", peak_tflops=312.0, mfu=0.45, price_per_hour=1.80, devices_per_host=8),
    "l4": Accelerator("gpu", peak_tflops=121.0, mfu=0.35, price_per_hour=0.70, devices_per_host=8),
    "v4": Accelerator("tpu", peak_tflops=275.0, mfu=0.50, price_per_hour=3.22, devices_per_host=4),
    "v5p": Accelerator("tpu", peak_tflops=459.0, mfu=0.50, price_per_hour=4.20, devices_per_host=4),
    "v5litepod": Accelerator("tpu", peak_tflops=197.0, mfu=0.50, price_per_hour=1.20, devices_per_host=8),
    "v6e": Accelerator("tpu", peak_tflops=918.0, mfu=0.50, price_per_hour=2.70, devices_per_host=8),
}
"""Name -> accelerator. TPU names are generations: `v5litepod-16` is 16 chips of `v5litepod`."""

DEFAULT_TYPE = {"cpu": "cpu", "gpu": "h100", "tpu": "v5litepod-8"}
TPU_CORES_NAMING = {"v4", "v5p"}
"""Generations whose slice names count TensorCores (two per chip): `v4-8` is 4 chips."""


@dataclass(frozen=True)
class Slice:
    """The hardware a step asked for, resolved: which accelerator, how many devices, on how many hosts."""

    name: str
    """The accelerator's table entry."""
    type: str
    """As the user wrote it (or the family's default), e.g. `v5litepod-16`."""
    accelerator: Accelerator
    devices: int

    @property
    def hosts(self) -> int:
        return max(1, math.ceil(self.devices / self.accelerator.devices_per_host))


def resolve_slice(resources: dict[str, Any], table: dict[str, Accelerator] | None = None) -> Slice:
    """`resources = { accelerator, type, topology }` -> a Slice; unknown types are a UsageError with the known ones."""
    table = table or ACCELERATORS
    family = resources.get("accelerator", "cpu")
    type_ = (resources.get("type") or DEFAULT_TYPE[family]).lower()
    name, _, count = type_.partition("-")
    if name == "v5e":
        name = "v5litepod"
    if name not in table:
        known = ", ".join(sorted(table))
        raise UsageError(
            f"no price/throughput entry for accelerator type `{type_}`; known: {known} (add it with --prices)"
        )
    devices = 1
    if family == "tpu" and count.isdigit():
        devices = int(count) // (2 if name in TPU_CORES_NAMING else 1)
    if topology := resources.get("topology"):
        devices = math.prod(int(part) for part in re.findall(r"\d+", topology)) or devices
    return Slice(name, type_, table[name], max(1, devices))


def load_prices(path: str | None) -> dict[str, Accelerator]:
    """The default table with a user's TOML overrides merged in (`path`, else `$LMSPEC_PRICES`, else none)."""
    path = path or os.environ.get("LMSPEC_PRICES")
    table = dict(ACCELERATORS)
    if not path:
        return table
    try:
        overrides = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the price table {path}: {exc}") from None
    fields = set(Accelerator.__dataclass_fields__)
    for name, values in overrides.items():
        if not isinstance(values, dict) or not set(values) <= fields:
            bad = sorted(set(values) - fields) if isinstance(values, dict) else values
            raise UsageError(f"{path}: [{name}] may set {', '.join(sorted(fields))}; got {bad}")
        base = table.get(name)
        if base is None and not fields <= set(values):
            raise UsageError(f"{path}: new accelerator [{name}] needs every field: {', '.join(sorted(fields))}")
        table[name] = replace(base, **values) if base else Accelerator(**values)
    return table


@dataclass(frozen=True)
class Estimate:
    """Size, compute, time and money of one training run on one slice."""

    parameters: int
    tokens: int
    flops: float
    slice: Slice
    active_parameters: int | None = None
    """With MoE, the parameters a token passes through (what `flops` counts); None: all of them."""

    @property
    def hours(self) -> float:
        acc = self.slice.accelerator
        return self.flops / (self.slice.devices * acc.peak_tflops * 1e12 * acc.mfu) / 3600

    @property
    def cost(self) -> float:
        return self.hours * self.slice.devices * self.slice.accelerator.price_per_hour

    def to_json(self) -> dict[str, Any]:
        active = {} if self.active_parameters is None else {"active_parameters": self.active_parameters}
        return {
            "parameters": self.parameters,
            **active,
            "tokens": self.tokens,
            "flops": self.flops,
            "accelerator": self.slice.type,
            "devices": self.slice.devices,
            "hours": self.hours,
            "cost_usd": self.cost,
        }


def parameter_count(dims: dict[str, Any], vocab_size: int) -> int:
    """Parameters of MaxText's Llama-style decoder: untied embeddings, GQA attention, SwiGLU MLP (with MoE, every
    expert and the router), RMSNorms (and the query/key norms of `qk_norm`)."""
    return _decoder_parameters(dims, vocab_size, experts=dims.get("num_experts", 1))


def active_parameter_count(dims: dict[str, Any], vocab_size: int) -> int:
    """The parameters one token passes through: with MoE only its `experts_per_token` experts per layer. Training
    FLOPs scale with these (6 * active * tokens), not with the total."""
    return _decoder_parameters(dims, vocab_size, experts=dims.get("experts_per_token", 1))


def _decoder_parameters(dims: dict[str, Any], vocab_size: int, experts: int) -> int:
    d, head_dim, routed = dims["emb_dim"], dims["head_dim"], dims.get("num_experts", 1)
    attention = 2 * d * dims["num_heads"] * head_dim + 2 * d * dims["num_kv_heads"] * head_dim
    qk_norm = 2 * head_dim if dims.get("qk_norm") else 0
    router = d * routed if routed > 1 else 0
    layer = attention + qk_norm + experts * 3 * d * dims["mlp_dim"] + router + 2 * d
    return int(2 * vocab_size * d + dims["num_layers"] * layer + d)


def format_duration(hours: float) -> str:
    seconds = hours * 3600
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"
