"""One MaxText lowering for `compile` and `run`, the data-size flags, and the typed training outputs (no engines)."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest

from lmspec.compiler import compile_spec
from lmspec.compiler.estimates import train_estimates
from lmspec.compiler.hardware import ACCELERATORS, resolve_slice
from lmspec.compiler.maxtext import MAX_EVAL_STEPS, TrainingData, command_line, data_size_flags, lower
from lmspec.outputs.model import ModelCheckpoint, ModelInfo, final_checkpoint, last_checkpoint, publish_run
from lmspec.outputs.tokenizer import TokenizerInfo
from lmspec.outputs.tokens import SplitCounts, TokenizedData, TokensInfo
from lmspec.schemas.training import ModelConfig, Train
from tests.conftest import diagnostics_of

POD = """
[experiment]
name = "pod"

[steps.docs]
kind = "ingest"
paths = ["data/*.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@docs"
vocab_size = 4096

[steps.web]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"
append_eos = false

[steps.code]
kind = "tokenize"
input = "@docs"
tokenizer = "@tok"

[steps.model]
kind = "train"
data = "@web"
steps = 40
batch_size = 64

[steps.cooldown]
kind = "train"
data = { "@web" = 0.7, "@code" = 0.3 }
init_from = "@model"
steps = 10
batch_size = 64
resources = { accelerator = "tpu", type = "v5litepod-16" }
"""


def _train(**fields: object) -> Train:
    return Train.model_validate({"kind": "train", "data": "@tokens", "batch_size": 8, **fields})


def _tokens(train: int, validation: int, append_eos: bool = True) -> TokensInfo:
    return TokensInfo(
        TokenizerInfo(1024, 0, 1, 2), append_eos, SplitCounts(10, train, 100), SplitCounts(1, validation, 10)
    )


def test_compile_shows_the_flags_run_lowers(tmp_path: Path) -> None:
    """The launch command `compile` prints is `lower` over the plan's paths: no second flag assembly."""
    spec = tmp_path / "pod.toml"
    spec.write_text(POD)
    plan = compile_spec(spec, str(tmp_path / "runs"))
    cooldown = plan.step("cooldown")
    assert isinstance(cooldown.config, Train)
    web, code, model = (plan.step(name).output_path for name in ("web", "code", "model"))
    expected = lower(
        cooldown.config,
        hardware=resolve_slice({"accelerator": "tpu", "type": "v5litepod-16"}),
        vocab_size=4096,
        data=TrainingData({web: 0.7, code: 0.3}, append_eos=False),  # the first output's setting
        work_dir=f"{cooldown.output_path}.resume",
        init_checkpoint=final_checkpoint(model, 39),
    )
    launch = train_estimates(plan, ACCELERATORS)["cooldown"].launch
    assert launch is not None
    assert launch.endswith(f"--command={shlex.quote(shlex.join(command_line(expected)))}")
    assert expected["load_parameters_path"] == f"{model}/checkpoints/39/items"  # the layout train outputs keep
    assert expected["grain_train_files"] == f"{web}/train-*.array_record,0.7;{code}/train-*.array_record,0.3"
    assert expected["tokenizer_path"] == f"{web}/tokenizer"
    assert expected["add_eos"] is False


def test_data_size_flags_repeat_short_data_and_evaluate_on_a_full_batch() -> None:
    train = _train(steps=100, model={"preset": "tiny", "seq_len": 128})  # 8 x 128 = 1024 tokens a step
    short = data_size_flags(train, {"/t": _tokens(train=40_000, validation=1000)})
    assert short == {"num_epoch": 4}  # ceil(102_400 * 1.25 / 40_000); 1000 held-out tokens are not a batch
    mixed = data_size_flags(train, {"/a": _tokens(200_000, 3000), "/b": _tokens(100_000, 0)})
    assert mixed["num_epoch"] == 1
    assert mixed["grain_eval_files"] == "/a/validation-*.array_record"  # an empty split is left out
    assert (mixed["eval_interval"], mixed["eval_start_step"], mixed["eval_steps"]) == (100, 99, 2)  # once, at the end
    both = data_size_flags(
        _train(steps=100, eval_every=25), {"/a": _tokens(10**6, 10**6), "/b": _tokens(10**6, 5 * 10**5)}
    )
    assert both["grain_eval_files"] == "/a/validation-*.array_record,1000000;/b/validation-*.array_record,500000"
    assert (both["eval_interval"], both["eval_start_step"], both["eval_steps"]) == (25, 24, MAX_EVAL_STEPS)


def test_tokens_json_keeps_its_layout() -> None:
    info = _tokens(train=900, validation=80, append_eos=False)
    on_disk = {
        "append_eos": False,
        "bos_id": 0,
        "eos_id": 1,
        "pad_id": 2,
        "vocab_size": 1024,
        "splits": {
            "train": {"documents": 10, "tokens": 900, "bytes": 100},
            "validation": {"documents": 1, "tokens": 80, "bytes": 10},
        },
    }
    assert info.to_json() == on_disk
    assert TokensInfo.from_json(on_disk) == info
    assert TokensInfo.from_json({**on_disk, "seconds": 0.5}) == info  # written before outputs were deterministic
    assert info.counts()["validation_tokens"] == 80


def test_model_json_keeps_its_layout_and_names_the_checkpoint_compile_plans(tmp_path: Path) -> None:
    run, output = tmp_path / "run", tmp_path / "model-abc"
    for step, committed in ((9, True), (19, True), (24, False)):  # 24: orbax never finished writing it
        (run / "checkpoints" / str(step) / "items").mkdir(parents=True)
        if committed:
            (run / "checkpoints" / str(step) / "commit_success.txt").write_text("")
    (run / "tensorboard").mkdir()
    output.mkdir()
    final = last_checkpoint(run)
    assert final == 19
    dimensions = ModelConfig.model_validate({"preset": "tiny"})
    publish_run(run, output, ModelInfo(dimensions, 1024, final))
    written = json.loads((output / "model.json").read_text())
    assert written["checkpoint"] == "checkpoints/19/items"
    assert written["final_step"] == 19
    assert written["tokenizer"] == "tokenizer/tokenizer.json"
    assert written["model"] == {**dimensions.model_dump(), "vocab_size": 1024}
    model = ModelCheckpoint(output)
    assert model.info() == ModelInfo(ModelConfig.model_validate(written["model"]), 1024, 19)
    assert model.final_checkpoint() == Path(final_checkpoint(str(output), _train(steps=20).final_step))
    assert model.final_checkpoint().is_dir()
    assert model.tensorboard.is_dir()


def test_a_model_output_without_model_json_says_so(tmp_path: Path) -> None:
    from lmspec.outputs.model import ModelLoadError

    with pytest.raises(ModelLoadError, match=r"is not a finished train step output \(model.json is missing\)"):
        ModelCheckpoint(tmp_path).info()


def test_split_files_are_found_by_split(tmp_path: Path) -> None:
    for name in ("train-00000.array_record", "train-00002.array_record", "validation-00001.array_record"):
        (tmp_path / name).write_bytes(b"")
    tokens = TokenizedData(tmp_path)
    assert [p.name for p in tokens.split_files("train")] == ["train-00000.array_record", "train-00002.array_record"]
    assert [p.name for p in tokens.split_files("validation")] == ["validation-00001.array_record"]


def test_a_tokenizer_needs_bos_and_eos(write_spec: Callable[..., Path]) -> None:
    spec = write_spec(
        """
        [experiment]
        name = "x"

        [steps.docs]
        kind = "ingest"
        paths = ["a.jsonl"]
        format = "jsonl"

        [steps.tok]
        kind = "train_tokenizer"
        input = "@docs"
        special_tokens = ["<eos>"]
        """
    )
    [found] = diagnostics_of(spec)
    assert (found.line, found.field) == (12, "steps.tok.special_tokens")
    assert "needs a beginning- and an end-of-sequence token, in that order" in found.message
