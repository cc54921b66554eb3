"""Lowering train steps to MaxText, and the estimates `lmspec compile` and `lmspec cost` show (no engines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.estimates import across_accelerators, train_estimates
from lmspec.compiler.hardware import ACCELERATORS, load_prices, parameter_count, resolve_slice
from lmspec.compiler.maxtext import exact_fraction, hardware_flags, schedule_flags, train_flags
from lmspec.compiler.render import plan_dict
from lmspec.errors import UsageError
from lmspec.outputs.status import plan_statuses
from lmspec.schemas.training import MODEL_PRESETS, Train
from tests.conftest import REPO

SPEC = """
[experiment]
name = "pod"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 32000

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "1b" }
tokens = 20_000_000_000
batch_size = 512
resources = RESOURCES
"""


def _train(**fields: object) -> Train:
    return Train.model_validate({"kind": "train", "data": "@tokens", "batch_size": 8, **fields})


def _plan(tmp_path: Path, resources: str) -> Path:
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("RESOURCES", resources))
    return spec


def test_exact_fraction_gives_back_every_step_count() -> None:
    for whole in range(1, 1200):
        for part in range(0, whole + 1, max(1, whole // 37)):
            assert int(whole * exact_fraction(part, whole)) == part


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"kind": "cosine", "warmup_steps": 7, "min_lr_ratio": 0.05}, {"lr_schedule_type": "cosine"}),
        ({"kind": "constant", "warmup_steps": 3}, {"lr_schedule_type": "wsd", "wsd_decay_steps_fraction": 0.0}),
        ({"kind": "linear", "warmup_steps": 10}, {"lr_schedule_type": "wsd", "wsd_decay_style": "linear"}),
        ({"kind": "wsd", "warmup_steps": 10, "decay_fraction": 0.2}, {"wsd_decay_steps_fraction": 0.2}),
    ],
)
def test_schedules_lower_to_maxtext_fractions(schedule: dict[str, object], expected: dict[str, object]) -> None:
    train = _train(steps=333, schedule=schedule)
    flags = schedule_flags(train)
    assert flags.items() >= expected.items()
    assert int(333 * float(flags["warmup_steps_fraction"])) == schedule["warmup_steps"]
    if schedule["kind"] == "linear":  # decays over every step after warm-up: nothing left for a stable phase
        decay = int(333 * float(flags["wsd_decay_steps_fraction"]))
        assert decay == 333 - 10
        assert float(flags["warmup_steps_fraction"]) + float(flags["wsd_decay_steps_fraction"]) <= 1.0


def test_train_flags_carry_every_semantic_field() -> None:
    train = _train(
        steps=50,
        seed=7,
        model={"preset": "tiny", "emb_dim": 96, "dtype": "bfloat16"},
        optimizer={"lr": 1e-3, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05, "z_loss": 1e-4},
    )
    flags = train_flags(train, vocab_size=4096)
    assert flags["base_emb_dim"] == 96
    assert flags["vocab_size"] == 4096
    assert (flags["adam_b1"], flags["adam_b2"], flags["adam_eps"]) == (0.8, 0.99, 1e-6)
    assert (flags["adam_weight_decay"], flags["z_loss_multiplier"]) == (0.05, 1e-4)
    assert (flags["init_weights_seed"], flags["data_shuffle_seed"]) == (7, 7)
    assert flags["steps"] == flags["learning_rate_schedule_steps"] == 50  # resume relies on a fixed schedule
    assert flags["dtype"] == "bfloat16"


def test_token_budget_becomes_steps() -> None:
    train = _train(tokens=1_000_000, model={"preset": "tiny", "seq_len": 128})
    assert train.total_steps == 977  # ceil(1e6 / (8 * 128))
    assert train.total_tokens == 977 * 8 * 128


def test_parameter_count_matches_llama3_8b() -> None:
    assert parameter_count(MODEL_PRESETS["8b"], vocab_size=128_256) == 8_030_261_248  # Meta's published count


@pytest.mark.parametrize(
    ("resources", "devices", "hosts"),
    [
        ({"accelerator": "cpu"}, 1, 1),
        ({"accelerator": "gpu"}, 1, 1),
        ({"accelerator": "gpu", "type": "h100", "topology": "2x8"}, 16, 2),
        ({"accelerator": "tpu", "type": "v5litepod-8"}, 8, 1),
        ({"accelerator": "tpu", "type": "v5e-64"}, 64, 8),
        ({"accelerator": "tpu", "type": "v4-8"}, 4, 1),  # v4 names count TensorCores, two per chip
        ({"accelerator": "tpu", "type": "v5p-128", "topology": "4x4x4"}, 64, 16),
    ],
)
def test_resources_resolve_to_devices_and_hosts(resources: dict[str, str], devices: int, hosts: int) -> None:
    found = resolve_slice(resources)
    assert (found.devices, found.hosts) == (devices, hosts)


@pytest.mark.parametrize(
    ("resources", "dtype", "expected"),
    [
        ({"accelerator": "cpu"}, "float32", {"hardware": "cpu", "skip_jax_distributed_system": True}),
        ({"accelerator": "gpu"}, "bfloat16", {"hardware": "gpu", "attention": "cudnn_flash_jax"}),
        ({"accelerator": "gpu"}, "float32", {"hardware": "gpu"}),  # cuDNN fuses no float32 attention
        ({"accelerator": "gpu", "topology": "2x8"}, "bfloat16", {"hardware": "gpu_multiprocess"}),
        ({"accelerator": "tpu", "type": "v5litepod-8"}, "bfloat16", {"hardware": "tpu"}),
    ],
)
def test_hardware_lowers_to_device_flags(resources: dict[str, str], dtype: str, expected: dict[str, object]) -> None:
    train = _train(steps=10, batch_size=16, model={"preset": "tiny", "dtype": dtype})
    flags = hardware_flags(resolve_slice(resources), train)
    assert flags.items() >= expected.items()
    assert flags["per_device_batch_size"] == 16 / resolve_slice(resources).devices
    if dtype == "float32" or resources["accelerator"] != "gpu":
        assert "attention" not in flags


def test_unknown_accelerator_names_the_known_ones() -> None:
    with pytest.raises(UsageError, match="no price/throughput entry for accelerator type `b200`; known: a100, cpu"):
        resolve_slice({"accelerator": "gpu", "type": "b200"})


def test_compile_shows_estimates_and_a_pod_launch_command(tmp_path: Path) -> None:
    plan = compile_spec(_plan(tmp_path, '{ accelerator = "tpu", type = "v5litepod-64" }'), str(tmp_path / "runs"))
    found = train_estimates(plan, ACCELERATORS)["model"]
    e = found.estimate
    assert found.vocab_known
    assert e.parameters == parameter_count(MODEL_PRESETS["1b"], 32_000)
    assert e.tokens == 19_074 * 512 * 2048
    assert e.flops == pytest.approx(6 * e.parameters * e.tokens)
    v5e = ACCELERATORS["v5litepod"]
    assert e.hours == pytest.approx(e.flops / (64 * v5e.peak_tflops * 1e12 * v5e.mfu) / 3600)
    assert e.cost == pytest.approx(e.hours * 64 * v5e.price_per_hour)
    assert found.launch is not None
    assert found.launch.startswith("xpk workload create --cluster=$CLUSTER --docker-image=$IMAGE")
    assert "--tpu-type=v5litepod-64" in found.launch
    assert "hardware=tpu" in found.launch
    assert "per_device_batch_size=8.0" in found.launch  # 512 sequences over 64 chips
    assert f"grain_train_files={plan.step('tokens').output_path}/train-*.array_record" in found.launch
    step = next(s for s in plan_dict(plan, plan_statuses(plan))["steps"] if s["name"] == "model")
    assert step["estimate"]["devices"] == 64
    assert step["launch_command"] == found.launch


def test_moving_a_step_to_other_hardware_changes_its_launch_not_its_hash(tmp_path: Path) -> None:
    cpu = compile_spec(_plan(tmp_path, '{ accelerator = "cpu" }'), str(tmp_path / "runs"))
    tpu = compile_spec(_plan(tmp_path, '{ accelerator = "tpu", type = "v5litepod-64" }'), str(tmp_path / "runs"))
    assert cpu.step("model").hash == tpu.step("model").hash
    assert train_estimates(cpu, ACCELERATORS)["model"].launch is None


def test_price_overrides_change_the_cheapest_accelerator(tmp_path: Path) -> None:
    plan = compile_spec(_plan(tmp_path, '{ accelerator = "cpu" }'), str(tmp_path / "runs"))
    assert across_accelerators(plan, ACCELERATORS)[0][1] == "v6e"
    prices = tmp_path / "prices.toml"
    prices.write_text("[l4]\nprice_per_hour = 0.01\n")
    assert across_accelerators(plan, load_prices(str(prices)))[0][1] == "l4"


def test_bad_price_table_is_a_clear_error(tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text("[h100]\nprice = 2.0\n")
    with pytest.raises(UsageError, match=r"prices.toml: \[h100\] may set .*price_per_hour.*; got \['price'\]"):
        load_prices(str(prices))
    prices.write_text("[b200]\nprice_per_hour = 6.0\n")
    with pytest.raises(UsageError, match=r"new accelerator \[b200\] needs every field"):
        load_prices(str(prices))


def test_cost_command_answers_the_cheapest_per_parameter(tmp_path: Path) -> None:
    spec = _plan(tmp_path, '{ accelerator = "cpu" }')
    done = subprocess.run(
        [sys.executable, "-m", "lmspec.cli", "cost", str(spec), "--json"],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    rows = json.loads(done.stdout)
    assert rows[0]["accelerator"] == "v6e"
    assert {r["accelerator"] for r in rows} == set(ACCELERATORS)
    assert rows == sorted(rows, key=lambda r: r["cost_usd"])
