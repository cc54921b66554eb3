"""Lowering sft, dpo and the architecture options to MaxText, and their estimates (no engines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.estimates import train_estimates
from lmspec.compiler.hardware import ACCELERATORS, active_parameter_count, parameter_count, resolve_slice
from lmspec.compiler.maxtext import architecture_flags, hardware_flags, launch_command, lower, records_flags
from lmspec.compiler.render import estimate_line
from lmspec.outputs.chat import CONVERSATIONS, PAIRS, prepared_file, prepared_glob
from lmspec.schemas.post_training import Dpo, Sft
from lmspec.schemas.training import MODEL_PRESETS, MaxTextTraining, ModelConfig, Train

SPEC = """
[experiment]
name = "post"

[steps.docs]
kind = "ingest"
paths = ["docs.jsonl"]
format = "jsonl"

[steps.chat]
kind = "ingest"
paths = ["chat.jsonl"]
format = "chat"

[steps.prefs]
kind = "ingest"
paths = ["prefs.jsonl"]
format = "preference"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 4096

[steps.tokens]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.base]
kind = "train"
data = "@tokens"
model = MODEL
steps = 100
batch_size = 8

[steps.sft]
kind = "sft"
init_from = "@base"
data = "@chat"
model = MODEL
steps = 20
batch_size = 8

[steps.dpo]
kind = "dpo"
init_from = "@sft"
data = "@prefs"
model = MODEL
beta = 0.25
steps = 10
batch_size = 4
resources = { accelerator = "tpu", type = "v5litepod-16" }
"""


def _compiled(tmp_path: Path, model: str = '{ preset = "tiny" }') -> tuple[Path, object]:
    for name in ("docs", "chat", "prefs"):
        (tmp_path / f"{name}.jsonl").write_text("{}\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(SPEC.replace("MODEL", model))
    return spec, compile_spec(spec, "/runs")


def _model(**fields: object) -> ModelConfig:
    return ModelConfig.model_validate({"preset": "tiny", **fields})


def test_a_plain_model_adds_no_flag_so_its_runs_lower_as_before() -> None:
    assert architecture_flags(_model()) == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"qk_norm": True}, {"decoder_block": "qwen3", "use_qk_norm": True}),
        (
            {"num_experts": 4, "experts_per_token": 2},
            {"decoder_block": "qwen3_moe", "num_experts": 4, "num_experts_per_tok": 2, "base_moe_mlp_dim": 512},
        ),
        (
            {"num_experts": 8, "qk_norm": True},
            {
                "decoder_block": "qwen3_moe",
                "num_experts": 8,
                "num_experts_per_tok": 1,
                "base_moe_mlp_dim": 512,
                "use_qk_norm": True,
            },
        ),
        ({"post_attn_norm": True}, {"decoder_block": "olmo3", "sliding_window_size": 128}),
        (
            {"post_attn_norm": True, "qk_norm": True, "seq_len": 256},
            {"decoder_block": "olmo3", "sliding_window_size": 256, "use_qk_norm": True},
        ),
    ],
)
def test_each_architecture_option_picks_the_maxtext_block_that_reads_it(
    fields: dict[str, object], expected: dict[str, object]
) -> None:
    assert architecture_flags(_model(**fields)) == expected


def test_sft_lowers_to_maxtext_s_native_trainer_on_its_prepared_conversations(tmp_path: Path) -> None:
    _, plan = _compiled(tmp_path)
    sft = plan.step("sft").config  # type: ignore[attr-defined]
    assert isinstance(sft, Sft)
    flags = lower(sft, hardware=resolve_slice({}), vocab_size=4096, data=None, work_dir="/w", init_checkpoint="/c")
    assert sft.trainer == "maxtext.trainers.post_train.sft.train_sft_native"
    assert flags["grain_file_type"] == "parquet"
    assert flags["grain_train_files"] == prepared_glob("/w", CONVERSATIONS) == "/w/data/conversations-*.parquet"
    assert (flags["train_data_columns"], flags["sft_train_on_completion_only"]) == ("['messages']", True)
    assert (flags["tokenizer_path"], flags["add_bos"], flags["add_eos"]) == ("/w/tokenizer", False, False)
    assert (flags["load_parameters_path"], flags["steps"], flags["vocab_size"]) == ("/c", 20, 4096)
    everything = sft.model_copy(update={"train_on": "all"})
    assert (
        lower(everything, hardware=resolve_slice({}), vocab_size=4096, data=None, work_dir="/w", init_checkpoint="/c")[
            "sft_train_on_completion_only"
        ]
        is False
    )
    assert records_flags(sft, records=64) == {"num_epoch": 4}  # 20 steps x 8 x 1.25 margin / 64 conversations


def test_dpo_lowers_its_beta_and_prompt_length_to_maxtext_s_dpo_trainer(tmp_path: Path) -> None:
    _, plan = _compiled(tmp_path)
    dpo = plan.step("dpo").config  # type: ignore[attr-defined]
    assert isinstance(dpo, Dpo)
    flags = lower(dpo, hardware=resolve_slice({}), vocab_size=4096, data=None, work_dir="/w", init_checkpoint=None)
    assert flags["grain_train_files"] == "/w/data/pairs-*.array_record"
    assert flags["train_data_columns"] == "['prompt','chosen','rejected']"
    assert (flags["dpo.dpo_beta"], flags["dpo.max_prompt_length"], flags["packing"]) == (0.25, 64, False)
    assert flags["use_dpo"] is True
    hardware = resolve_slice(dpo.resources.model_dump())
    launch = launch_command("dpo", "abc", hardware, flags, dpo.trainer)
    assert launch is not None
    assert "-m lmspec.runtime.training.dpo_maxtext" in launch


def test_prepared_files_are_numbered_under_the_work_dir(tmp_path: Path) -> None:
    assert prepared_file(tmp_path, PAIRS, 3) == tmp_path / "data" / "pairs-00003.array_record"
    assert (tmp_path / "data").is_dir()


def test_post_training_estimates_take_the_vocabulary_and_checkpoint_of_the_model_they_continue(tmp_path: Path) -> None:
    _, plan = _compiled(tmp_path)
    estimates = train_estimates(plan, ACCELERATORS)  # type: ignore[arg-type]
    sft, dpo = estimates["sft"].estimate, estimates["dpo"].estimate
    assert estimates["sft"].vocab_known
    assert sft.parameters == parameter_count(MODEL_PRESETS["tiny"], 4096)
    assert sft.flops == 6 * sft.parameters * 20 * 8 * 128
    # dpo: policy forward+backward and reference forward, on the chosen and the rejected response
    assert dpo.flops == 16 * dpo.parameters * 10 * 4 * 128


def test_moe_shows_total_and_active_parameters_and_costs_by_the_active_ones(tmp_path: Path) -> None:
    _, plan = _compiled(tmp_path, '{ preset = "tiny", num_experts = 8, experts_per_token = 2 }')
    found = train_estimates(plan, ACCELERATORS)["base"]  # type: ignore[arg-type]
    e = found.estimate
    dims = {**MODEL_PRESETS["tiny"], "num_experts": 8, "experts_per_token": 2}
    assert (e.parameters, e.active_parameters) == (parameter_count(dims, 4096), active_parameter_count(dims, 4096))
    d, mlp, layers = 128, 512, 2
    assert e.parameters - e.active_parameters == layers * 6 * 3 * d * mlp  # the 6 experts a token skips
    assert e.flops == 6 * e.active_parameters * 100 * 8 * 128
    assert e.to_json()["active_parameters"] == e.active_parameters
    assert " params (" in estimate_line(found)
    assert "active)" in estimate_line(found)
    dense = train_estimates(_compiled(tmp_path)[1], ACCELERATORS)["base"].estimate  # type: ignore[arg-type]
    assert dense.active_parameters is None
    assert "active_parameters" not in dense.to_json()


def test_qk_norm_counts_its_scales() -> None:
    plain, normed = (_model().model_dump(), _model(qk_norm=True).model_dump())
    assert parameter_count(normed, 1024) - parameter_count(plain, 1024) == 2 * 2 * 32  # 2 layers x (q, k) x head_dim


def test_every_training_kind_names_its_trainer() -> None:
    assert MaxTextTraining.trainer == "maxtext.trainers.pre_train.train"
    assert Dpo.trainer == "lmspec.runtime.training.dpo_maxtext"


def test_moe_on_cpu_uses_the_dense_expert_matmul() -> None:
    def train(**model: object) -> Train:
        return Train.model_validate({"kind": "train", "data": "@t", "steps": 5, "batch_size": 2, "model": model})

    moe = train(num_experts=4)
    assert hardware_flags(resolve_slice({}), moe)["sparse_matmul"] is False
    assert "sparse_matmul" not in hardware_flags(resolve_slice({"accelerator": "gpu"}), moe)
    assert "sparse_matmul" not in hardware_flags(resolve_slice({}), train())
