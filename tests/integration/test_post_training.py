"""sft and dpo through `lmspec run`: real MaxText on CPU, a tiny model pre-trained on the manual, the example's data.

Each test reads the loss curves the catalog recorded; kills are real SIGKILLs of `lmspec run` (and with it the
trainer), as in test_training.py.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from examples.post_training_data import make
from lmspec.catalog import Catalog
from lmspec.compiler.maxtext import RUN_NAME
from lmspec.outputs.metrics import Metrics
from lmspec.outputs.model import TENSORBOARD_DIR, ModelCheckpoint
from lmspec.runtime.training.events import read_series
from lmspec.schemas.post_training import CHAT_TEMPLATES
from tests.support.specs import cli_command, cli_env, run_cli

pytestmark = pytest.mark.integration

BASE = """
[experiment]
name = "post"

[steps.manual]
kind = "ingest"
paths = ["data/manual.jsonl"]
format = "jsonl"

[steps.tok]
kind = "train_tokenizer"
input = "@manual"
vocab_size = 1024

[steps.tokens]
kind = "tokenize"
input = "@manual"
tokenizer = "@tok"

[steps.base]
kind = "train"
data = "@tokens"
optimizer = { lr = 3e-3 }
steps = 40
batch_size = 8

[steps.chat]
kind = "ingest"
paths = ["data/chat.jsonl"]
format = "chat"

[steps.prefs]
kind = "ingest"
paths = ["data/prefs.jsonl"]
format = "preference"

[steps.prefs_test]
kind = "ingest"
paths = ["data/prefs_test.jsonl"]
format = "preference"
"""

SFT = """
[steps.sft]
kind = "sft"
init_from = "@base"
data = "@chat"
chat_template = "chatml"
optimizer = { lr = 1e-3 }
steps = 30
batch_size = 8
checkpoint_every = 5
"""

DPO = """
[steps.dpo]
kind = "dpo"
init_from = "@sft"
data = "@prefs"
beta = 0.1
optimizer = { lr = 3e-4 }
schedule = { kind = "constant" }
steps = 30
batch_size = 8
checkpoint_every = 5
"""


def _args(spec: Path, root: Path) -> list[str]:
    """`lmspec run SPEC` into `root`, one plain line per event."""
    return ["run", str(spec), "--root", str(root), "--quiet"]


def _run(spec: Path, root: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*_args(spec, root), timeout=900)


def _output(root: Path, step: str) -> Path:
    [path] = [p for p in root.glob(f"{step}-*") if p.is_dir() and "." not in p.name]
    return path


def _series(root: Path, step: str) -> dict[str, list[tuple[int, float]]]:
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=False)
    return catalog.series(str(_output(root, step)))


def _spec(workspace: Path, name: str, *bodies: str) -> Path:
    spec = workspace / f"{name}.toml"
    spec.write_text(BASE + "".join(bodies))
    return spec


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's data and a tiny model pre-trained on the manual, built once."""
    folder = tmp_path_factory.mktemp("post_training")
    make(folder / "data")
    done = _run(_spec(folder, "base"), folder / "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    return folder


def _losses(series: dict[str, list[tuple[int, float]]]) -> list[float]:
    return [value for _, value in series["loss"]]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_sft_loss_falls_and_its_model_carries_the_chat_template(workspace: Path) -> None:
    root = workspace / "runs"
    done = _run(_spec(workspace, "sft", SFT), root)
    assert done.returncode == 0, done.stdout + done.stderr
    losses = _losses(_series(root, "sft"))
    assert len(losses) == 30
    assert _mean(losses[-5:]) < _mean(losses[:5]) - 1.0, losses
    model = ModelCheckpoint(_output(root, "sft"))
    assert model.info().final_step == 29
    assert model.tokenizer.chat_template == CHAT_TEMPLATES["chatml"]
    flags = model.flags()
    assert (flags["sft_train_on_completion_only"], flags["grain_file_type"]) == (True, "parquet")
    assert str(flags["load_parameters_path"]).startswith(str(_output(root, "base")))


def test_dpo_records_its_curves_and_raises_held_out_preference_accuracy(workspace: Path) -> None:
    root = workspace / "runs"
    evaluations = """
[steps.eval_sft]
kind = "evaluate"
model = "@sft"
chat = { preferences = "@prefs_test", limit = 120 }

[steps.eval_dpo]
kind = "evaluate"
model = "@dpo"
chat = { preferences = "@prefs_test", limit = 120 }
"""
    done = _run(_spec(workspace, "dpo", SFT, DPO, evaluations), root)
    assert done.returncode == 0, done.stdout + done.stderr
    series = _series(root, "dpo")
    for name in ("loss", "reward_margin", "preference_accuracy", "chosen_logps", "rejected_logps"):
        assert [step for step, _ in series[name]] == list(range(30)), name
    assert series["loss"][0][1] == pytest.approx(0.6931, abs=1e-3)  # the policy starts as its reference: log 2
    assert _mean([v for _, v in series["reward_margin"][-5:]]) > 0
    before, after = (Metrics(_output(root, s)).results().metrics for s in ("eval_sft", "eval_dpo"))
    assert after["preferences/accuracy"] > before["preferences/accuracy"], (before, after)
    model = ModelCheckpoint(_output(root, "dpo"))
    assert model.tokenizer.chat_template == CHAT_TEMPLATES["chatml"]
    assert (model.info().final_step, model.final_checkpoint().name) == (29, "items")  # MaxText's layout
    assert "Training with mesh" in model.log_file.read_text()  # Tunix's DPOTrainer ran it


@pytest.mark.parametrize("step", ["sft", "dpo"])
def test_a_killed_post_training_step_resumes_to_the_same_curve(workspace: Path, step: str) -> None:
    """Kill `lmspec run` after step 17 (the checkpoint of step 15 is committed), run again: the curve of the
    resumed run equals the uninterrupted one's. The killed step is a copy under another name (same config,
    same inputs), so it runs afresh beside the uninterrupted one."""
    root = workspace / "runs"
    assert _run(_spec(workspace, "straight", SFT, DPO), root).returncode == 0  # cached when the tests above ran
    straight = _series(root, step)
    copy = (SFT if step == "sft" else DPO).replace(f"[steps.{step}]", f"[steps.{step}_killed]")
    spec = _spec(workspace, f"killed_{step}", SFT, DPO, copy)
    process = subprocess.Popen(
        cli_command(*_args(spec, root)), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    killed = f"{step}_killed"
    deadline = time.time() + 600
    while max((s for s, _ in _curve(root, killed)), default=-1) < 17:
        assert process.poll() is None, f"{killed} ended before step 17"
        assert time.time() < deadline, f"{killed} stalled before step 17"
        time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert max(s for s, _ in _curve(root, killed)) < 25, "the kill came too late to test resuming"
    time.sleep(1.0)  # the trainer gets SIGKILL from the kernel when its parent dies
    resumed_run = _run(spec, root)
    assert resumed_run.returncode == 0, resumed_run.stdout + resumed_run.stderr
    assert "resuming from the checkpoint at step" in (_output(root, killed) / "lmspec-step.log").read_text()
    resumed = _series(root, killed)
    assert [s for s, _ in resumed["loss"]] == list(range(30))
    worst = max(abs(a - b) for (_, a), (_, b) in zip(straight["loss"], resumed["loss"], strict=True))
    assert worst < 1e-3, f"resumed losses differ from the uninterrupted run by up to {worst}"


def _curve(root: Path, step: str) -> list[tuple[int, float]]:
    folders = list(root.glob(f"{step}-*.resume/{RUN_NAME}/{TENSORBOARD_DIR}"))
    return read_series(folders[0]).get("loss", []) if folders else []


def test_assistant_only_loss_ignores_user_tokens(workspace: Path) -> None:
    """Two datasets that differ only in the user's words of some conversations train to the same loss curve
    with train_on = "assistant", and not with "all". The differing conversations' user turns run past
    seq_len, so their answers are cut off and no assistant token can attend to the difference: only the
    loss mask decides whether those user tokens count."""
    chats = [json.loads(line) for line in (workspace / "data" / "chat.jsonl").read_text().splitlines()[:40]]
    curves: dict[tuple[str, str], list[float]] = {}
    for variant, words in (("a", "alpha beta gamma "), ("b", "delta epsilon zeta ")):
        long = [_chat(words * 60, "Never seen.") for _ in range(8)]
        path = workspace / "data" / f"masking_{variant}.jsonl"
        path.write_text("".join(json.dumps(c) + "\n" for c in chats + long))
        for train_on in ("assistant", "all"):
            body = f"""
[steps.chat_{variant}]
kind = "ingest"
paths = ["data/masking_{variant}.jsonl"]
format = "chat"

[steps.sft_{variant}_{train_on}]
kind = "sft"
init_from = "@base"
data = "@chat_{variant}"
chat_template = "chatml"
train_on = "{train_on}"
steps = 3
batch_size = 8
"""
            root = workspace / "runs"
            done = _run(_spec(workspace, f"masking_{variant}_{train_on}", body), root)
            assert done.returncode == 0, done.stdout + done.stderr
            curves[variant, train_on] = _losses(_series(root, f"sft_{variant}_{train_on}"))
    assert curves["a", "assistant"] == curves["b", "assistant"]
    assert curves["a", "all"] != curves["b", "all"]


def _chat(user: str, answer: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]}


@pytest.mark.parametrize(
    ("name", "model", "flags"),
    [
        (
            "moe",
            '{ preset = "tiny", num_experts = 4, experts_per_token = 2 }',
            {
                "decoder_block": "qwen3_moe",
                "num_experts": 4,
                "num_experts_per_tok": 2,
                "base_moe_mlp_dim": 512,
                "sparse_matmul": False,
            },
        ),
        (
            "hybrid",
            '{ preset = "tiny", post_attn_norm = true, qk_norm = true }',
            {"decoder_block": "olmo3", "sliding_window_size": 128, "use_qk_norm": True},
        ),
    ],
)
def test_moe_and_hybrid_norm_models_train_and_evaluate_on_cpu(
    workspace: Path, name: str, model: str, flags: dict[str, object]
) -> None:
    body = f"""
[steps.{name}]
kind = "train"
data = "@tokens"
model = {model}
optimizer = {{ lr = 3e-3 }}
steps = 20
batch_size = 8

[steps.eval_{name}]
kind = "evaluate"
model = "@{name}"
perplexity = ["@tokens"]
"""
    root = workspace / "runs"
    done = _run(_spec(workspace, name, body), root)
    assert done.returncode == 0, done.stdout + done.stderr
    ran = ModelCheckpoint(_output(root, name)).flags()
    assert {key: ran.get(key) for key in flags} == flags
    losses = _losses(_series(root, name))
    assert _mean(losses[-3:]) < _mean(losses[:3]) - 0.5, losses
    assert Metrics(_output(root, f"eval_{name}")).results().metrics["tokens/bits_per_byte"] < 8


def test_a_template_that_marks_no_assistant_span_stops_sft_before_training(workspace: Path) -> None:
    silent = "{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}\\n{% endif %}{% endfor %}"
    body = SFT.replace("[steps.sft]", "[steps.sft_silent]").replace(
        'chat_template = "chatml"', f'chat_template = "{silent}"'
    )
    root = workspace / "runs"
    done = _run(_spec(workspace, "silent", body), root)
    assert done.returncode == 1
    log = (next(root.glob("sft_silent-*.failed")) / "lmspec-step.log").read_text()
    assert "the chat template marks no assistant span holding the answer" in log
    assert "document `chat.jsonl:1`" in log
    assert "MaxText:" not in log  # refused before the trainer started


def test_bad_chat_records_fail_at_their_line_or_are_counted_skips(tmp_path: Path) -> None:
    bad = [
        {"messages": []},
        {"messages": [{"role": "bot", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]},
        _chat("fine", "yes"),
    ]
    (tmp_path / "bad_chat.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bad))
    (tmp_path / "bad_prefs.jsonl").write_text(json.dumps({"prompt": "p", "chosen": "c"}) + "\n")
    spec = '[experiment]\nname = "bad"\n\n[steps.bad]\nkind = "ingest"\npaths = ["bad_chat.jsonl"]\nformat = "chat"\n'
    spec += 'ON_ERROR\n\n[steps.bad_prefs]\nkind = "ingest"\npaths = ["bad_prefs.jsonl"]\nformat = "preference"\n'
    failing, skipping = tmp_path / "fail.toml", tmp_path / "skip.toml"
    failing.write_text(spec.replace("ON_ERROR", ""))
    skipping.write_text(spec.replace("ON_ERROR", 'on_error = "skip"'))
    failed = _run(failing, tmp_path / "fail")
    assert failed.returncode == 1
    output = failed.stdout + failed.stderr
    assert "bad_chat.jsonl:1: `messages` must be a non-empty list of messages, got []" in output
    assert "bad_prefs.jsonl:1: `rejected` is missing" in output
    _run(skipping, tmp_path / "skip")
    stats = json.loads((_output(tmp_path / "skip", "bad") / "stats.json").read_text())
    assert (stats["documents_out"], stats["skipped"]) == (1, 3)
    assert "bad_chat.jsonl:2: `messages[0]`: unknown role 'bot'" in stats["errors"][1]
    assert "bad_chat.jsonl:3: `messages[1]`: the assistant turn is empty" in stats["errors"][2]


@pytest.mark.parametrize(("template", "end"), [("chatml", "<|im_end|>"), ("zephyr", "</s>")])
def test_generation_stops_where_the_template_ends_a_turn(workspace: Path, template: str, end: str) -> None:
    from lmspec.runtime.training.chat import ChatRenderer

    tokenizer = ModelCheckpoint(_output(workspace / "runs", "base")).tokenizer
    renderer = ChatRenderer(tokenizer.load(), CHAT_TEMPLATES[template])
    assert renderer.end_of_turn() == end
    asked, answer = renderer.respond(
        [{"role": "user", "content": "Title?"}], [{"role": "assistant", "content": "Calls"}], "here"
    )
    assert asked.startswith("<s>")
    assert answer.startswith("Calls")
