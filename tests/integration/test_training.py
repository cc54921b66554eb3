"""Tokenizers, tokenization and MaxText training through `lmspec run`: real engines, CPU, small data."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from pathlib import Path

import pytest

from examples.quickstart_data import english_paragraphs, write_jsonl
from lmspec.catalog import Catalog
from lmspec.compiler import compile_spec
from lmspec.compiler.hardware import resolve_slice
from lmspec.compiler.maxtext import RUN_NAME, TrainingData, data_size_flags, lower
from lmspec.outputs.model import TENSORBOARD_DIR, ModelCheckpoint
from lmspec.outputs.tokenizer import Tokenizer, TokenizerInfo
from lmspec.outputs.tokens import SPLITS, TokenizedData
from lmspec.runtime.training.events import read_series
from lmspec.schemas.training import Train
from tests.support.specs import cli_command, cli_env, run_cli, tokenized

pytestmark = pytest.mark.integration

DATA = tokenized("training")

TRAIN = """
[steps.model]
kind = "train"
data = "@tokens"
model = { preset = "tiny" }
optimizer = { lr = 3e-3, weight_decay = 0.1 }
schedule = { kind = "cosine", warmup_steps = 5 }
steps = 30
batch_size = 8
checkpoint_every = 5
"""


def _args(spec: Path, root: Path) -> list[str]:
    """`lmspec run SPEC` into `root`, one plain line per event."""
    return ["run", str(spec), "--root", str(root), "--quiet"]


def _run(spec: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*_args(spec, root), timeout=600)


def _output(root: Path, step: str) -> Path:
    [path] = [p for p in root.glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return path


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A corpus of real English (the Python reference manual) and its tokenized splits, built once."""
    folder = tmp_path_factory.mktemp("training")
    write_jsonl(folder / "data" / "manual.jsonl", english_paragraphs())
    (folder / "data.toml").write_text(DATA)
    done = _run(folder / "data.toml", folder / "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _curve(root: Path) -> list[tuple[int, float]]:
    """The loss curve a running train step has flushed so far."""
    folders = list(root.glob(f"model-*.resume/{RUN_NAME}/{TENSORBOARD_DIR}"))
    return read_series(folders[0]).get("loss", []) if folders else []


def _spec(workspace: Path, name: str, body: str) -> Path:
    spec = workspace / f"{name}.toml"
    spec.write_text(DATA + body)
    return spec


def test_tokenizer_directory_loads_in_transformers(workspace: Path) -> None:
    from transformers import AutoTokenizer

    output = Tokenizer(_output(workspace / "runs", "tok"))
    tokenizer = AutoTokenizer.from_pretrained(str(output.source))
    assert len(tokenizer) == 1024
    stats = output.stats()
    assert (stats.documents, stats.vocab_size) == (len(english_paragraphs()), 1024)
    assert stats.bytes == sum(len(text.encode()) for text in english_paragraphs())
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<s>", "</s>", "<pad>")
    text = "The import statement binds a name in the local namespace."
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text  # byte-level BPE round-trips exactly
    assert len(ids) < len(text) / 2  # and has learned real merges from the corpus


def test_tokenize_writes_grain_readable_splits_with_counts(workspace: Path) -> None:
    from transformers import AutoTokenizer

    tokens = TokenizedData(_output(workspace / "runs", "tokens"))
    info = tokens.info()
    tokenizer = AutoTokenizer.from_pretrained(str(tokens.tokenizer.source))
    train, validation = (tokens.read_split(split) for split in SPLITS)
    total = len(english_paragraphs())
    assert len(train) + len(validation) == total
    assert 0.02 * total < len(validation) < 0.09 * total  # validation_fraction = 0.05
    for found, counted in ((train, info.train), (validation, info.validation)):
        assert counted.documents == len(found)
        assert counted.bytes == sum(len(t.encode()) for t in found)
        expected = sum(len(tokenizer.encode(t, add_special_tokens=False)) + 2 for t in found)  # + bos + eos
        assert counted.tokens == expected


def test_split_is_decided_by_document_id_alone(workspace: Path, tmp_path: Path) -> None:
    """Adding documents never moves old ones between splits."""
    write_jsonl(tmp_path / "data" / "manual.jsonl", english_paragraphs())
    write_jsonl(tmp_path / "data" / "more.jsonl", [f"An extra document number {i}." for i in range(300)])
    spec = tmp_path / "spec.toml"
    spec.write_text(DATA)
    done = _run(spec, tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    before = TokenizedData(_output(workspace / "runs", "tokens")).info().validation
    after = TokenizedData(_output(tmp_path / "runs", "tokens")).info().validation
    assert after.documents > before.documents
    # the manual's documents keep their split: its validation bytes are all still there
    assert after.bytes >= before.bytes


def test_tokenize_accepts_a_bare_tokenizer_json(workspace: Path, tmp_path: Path) -> None:
    source = Tokenizer(_output(workspace / "runs", "tok")).file
    (tmp_path / "my-tokenizer.json").write_bytes(source.read_bytes())
    write_jsonl(tmp_path / "data" / "a.jsonl", english_paragraphs()[:50])
    spec = tmp_path / "spec.toml"
    spec.write_text(
        '[experiment]\nname = "bare"\n\n[steps.docs]\nkind = "ingest"\npaths = ["data/*.jsonl"]\nformat = "jsonl"\n\n'
        '[steps.tokens]\nkind = "tokenize"\ninput = "@docs"\ntokenizer = "my-tokenizer.json"\n'
    )
    done = _run(spec, tmp_path / "runs")
    assert done.returncode == 0, done.stderr
    assert TokenizedData(_output(tmp_path / "runs", "tokens")).info().tokenizer == TokenizerInfo(1024, 0, 1, 2)


def test_train_records_curves_and_a_killed_run_resumes_to_the_same_losses(workspace: Path) -> None:
    spec = _spec(workspace, "train", TRAIN)
    straight_root = workspace / "runs"
    done = _run(spec, straight_root)
    assert done.returncode == 0, done.stdout + done.stderr
    model = ModelCheckpoint(_output(straight_root, "model"))
    assert model.info().final_step == 29
    assert model.final_checkpoint().is_dir()
    assert model.tensorboard.is_dir()
    _assert_flags_are_the_plans_lowering(spec, straight_root, model)
    catalog = Catalog(f"sqlite:///{straight_root / 'catalog.sqlite'}").open(create=False)
    straight = catalog.series(str(model.path))
    assert [step for step, _ in straight["loss"]] == list(range(30))
    assert straight["loss"][-1][1] < straight["loss"][0][1] - 1.0  # it learned
    assert straight["lr"][5][1] == pytest.approx(3e-3, rel=1e-3)  # warm-up ends at step 5
    record = catalog.find(str(model.path))
    assert record is not None
    assert record.metrics["tokens_per_s"] > 0

    # Same data at a fresh root; kill lmspec (and with it MaxText) mid-run, after step 17: the checkpoint of
    # step 15 is then committed (checkpoints are synchronous on CPU) and steps 16-17 must be redone.
    killed_root = workspace / "killed"
    process = subprocess.Popen(
        cli_command(*_args(spec, killed_root)), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.time() + 300
    while max((s for s, _ in _curve(killed_root)), default=-1) < 17:
        assert process.poll() is None, "training ended before step 17"
        assert time.time() < deadline, "training stalled before step 17"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert max(s for s, _ in _curve(killed_root)) < 25, "the kill came too late to test resuming"
    time.sleep(1.0)  # MaxText gets SIGKILL from the kernel when its parent dies
    assert not list(killed_root.glob("model-*[0-9a-f]/_SUCCESS"))
    resumed_run = _run(spec, killed_root)
    assert resumed_run.returncode == 0, resumed_run.stdout + resumed_run.stderr
    resumed_model = _output(killed_root, "model")
    assert "resuming from the checkpoint at step" in (resumed_model / "lmspec-step.log").read_text()
    resumed = Catalog(f"sqlite:///{killed_root / 'catalog.sqlite'}").open(create=False).series(str(resumed_model))
    assert [s for s, _ in resumed["loss"]] == list(range(30))
    worst = max(abs(a - b) for (_, a), (_, b) in zip(straight["loss"], resumed["loss"], strict=True))
    assert worst < 1e-3, f"resumed losses differ from the uninterrupted run by up to {worst}"
    assert not list(killed_root.glob("model-*.resume")), "the resume directory is removed once the step succeeds"


def _assert_flags_are_the_plans_lowering(spec: Path, root: Path, model: ModelCheckpoint) -> None:
    """What MaxText ran with is the compiler's `lower` over this run's paths plus the data-size flags: the
    executor assembles no flag of its own."""
    train = compile_spec(spec, str(root)).step("model").config
    assert isinstance(train, Train)
    tokens = TokenizedData(_output(root, "tokens"))
    planned = lower(
        train,
        hardware=resolve_slice({}),
        vocab_size=1024,
        data=TrainingData({str(tokens.path): 1.0}, append_eos=True),
        work_dir=f"{model.path}.resume",
        init_checkpoint=None,
    )
    sized = data_size_flags(train, {str(tokens.path): tokens.info()})
    assert "grain_eval_files" in sized  # the held-out split holds a batch: validation loss is on
    assert model.flags() == {**planned, **sized}


def test_tokenizer_larger_than_the_model_vocabulary_is_refused(workspace: Path) -> None:
    spec = _spec(workspace, "vocab", TRAIN.replace('preset = "tiny"', 'preset = "tiny", vocab_size = 512'))
    done = _run(spec, workspace / "runs")
    assert done.returncode != 0
    assert "the tokenizer has 1024 tokens but model.vocab_size is 512" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_too_little_training_data_is_refused(workspace: Path) -> None:
    spec = _spec(workspace, "short", TRAIN.replace("batch_size = 8", "batch_size = 2048"))
    done = _run(spec, workspace / "runs")
    assert done.returncode != 0
    assert "the training data is too short" in done.stdout + done.stderr
    assert "lower batch_size or model.seq_len" in done.stdout + done.stderr


def test_init_from_a_model_of_another_shape_is_refused(workspace: Path) -> None:
    body = TRAIN + (
        '\n[steps.wide]\nkind = "train"\ndata = "@tokens"\ninit_from = "@model"\n'
        'model = { preset = "tiny", emb_dim = 256 }\nsteps = 5\nbatch_size = 8\n'
    )
    done = _run(_spec(workspace, "shape", body), workspace / "runs")
    assert done.returncode != 0
    assert "init_from = @model has another model shape (emb_dim: 128 there, 256 here)" in done.stdout + done.stderr


def test_init_from_continues_from_the_other_runs_weights(workspace: Path) -> None:
    body = TRAIN + (
        '\n[steps.cooldown]\nkind = "train"\ndata = "@tokens"\ninit_from = "@model"\n'
        'model = { preset = "tiny" }\nschedule = { kind = "linear", warmup_steps = 0 }\n'
        "optimizer = { lr = 1e-3 }\nsteps = 5\nbatch_size = 8\n"
    )
    done = _run(_spec(workspace, "cooldown", body), workspace / "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    catalog = Catalog(f"sqlite:///{workspace / 'runs' / 'catalog.sqlite'}").open(create=False)
    base = catalog.series(str(_output(workspace / "runs", "model")))["loss"]
    cooldown = catalog.series(str(_output(workspace / "runs", "cooldown")))["loss"]
    assert cooldown[0][1] < base[0][1] - 1.0  # starts where the base run ended, not from scratch
    assert math.isclose(catalog.series(str(_output(workspace / "runs", "cooldown")))["lr"][-1][1], 0.0, abs_tol=1e-6)


def test_nan_loss_fails_the_step_with_its_number(workspace: Path) -> None:
    optimizer = 'optimizer = { name = "sgd", lr = 10.0, grad_clip = 0.0 }'
    body = TRAIN.replace("optimizer = { lr = 3e-3, weight_decay = 0.1 }", optimizer).replace(
        "warmup_steps = 5", "warmup_steps = 0"
    )
    done = _run(_spec(workspace, "nan", body), workspace / "runs")
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "the loss became nan at step" in out.lower(), out
    assert "lower optimizer.lr" in out


@pytest.mark.parametrize(
    ("schedule", "checks"),
    [
        # (step, learning rate as a fraction of the peak)
        ({"kind": "cosine", "warmup_steps": 10, "min_lr_ratio": 0.1}, [(0, 0.0), (5, 0.5), (10, 1.0), (99, 0.1)]),
        ({"kind": "constant", "warmup_steps": 10}, [(5, 0.5), (10, 1.0), (60, 1.0), (99, 1.0)]),
        ({"kind": "linear", "warmup_steps": 10, "min_lr_ratio": 0.0}, [(10, 1.0), (99, 0.0)]),
        ({"kind": "wsd", "warmup_steps": 10, "decay_fraction": 0.2}, [(10, 1.0), (79, 1.0), (80, 1.0), (99, 0.0)]),
    ],
)
def test_maxtext_runs_the_schedule_the_spec_describes(
    schedule: dict[str, object], checks: list[tuple[int, float]]
) -> None:
    """The lowered flags through MaxText's own schedule builder (not a reimplementation of it)."""
    from types import SimpleNamespace

    from maxtext.utils.maxtext_utils import create_learning_rate_schedule

    from lmspec.compiler.maxtext import train_flags

    train = Train.model_validate(
        {"kind": "train", "data": "@t", "steps": 100, "batch_size": 8, "schedule": schedule, "optimizer": {"lr": 0.5}}
    )
    defaults = {"wsd_decay_steps_fraction": 0.1, "wsd_decay_style": "linear"}
    lr = create_learning_rate_schedule(SimpleNamespace(**{**defaults, **train_flags(train, 1024)}))
    for step, fraction in checks:
        assert float(lr(step)) == pytest.approx(0.5 * fraction, abs=1e-6), f"step {step}"
    if schedule["kind"] == "linear":
        assert float(lr(55)) == pytest.approx(0.5 * (1 - 45 / 89), abs=1e-6)  # a straight line from 10 to 99


def test_a_weighted_mixture_of_tokenized_datasets_trains(workspace: Path) -> None:
    write_jsonl(
        workspace / "extra" / "lists.jsonl", [f"Item {i}: " + ", ".join(map(str, range(i, i + 60))) for i in range(400)]
    )
    body = (
        '\n[steps.extra]\nkind = "ingest"\npaths = ["extra/*.jsonl"]\nformat = "jsonl"\n\n'
        '[steps.extra_tokens]\nkind = "tokenize"\ninput = "@extra"\ntokenizer = "@tok"\n\n'
        '[steps.mixed]\nkind = "train"\ndata = { "@tokens" = 0.7, "@extra_tokens" = 0.3 }\n'
        'model = { preset = "tiny" }\noptimizer = { lr = 3e-3 }\nsteps = 8\nbatch_size = 8\n'
    )
    done = _run(_spec(workspace, "mixture", body), workspace / "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    mixed = ModelCheckpoint(_output(workspace / "runs", "mixed"))
    tokens, extra = _output(workspace / "runs", "tokens"), _output(workspace / "runs", "extra_tokens")
    assert mixed.flags()["grain_train_files"] == f"{tokens}/train-*.array_record,0.7;{extra}/train-*.array_record,0.3"
    assert mixed.info().final_step == 7
