"""The quickstart end to end on a smaller corpus and 30 training steps, then the lm-eval adapter checked
against a direct MaxText forward pass. Real engines throughout: Beam, fastText, tokenizers, MaxText, lm-eval."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from examples.quickstart_data import make
from lmspec.catalog import Catalog
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _lmspec(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), **environment)
    env.pop("CI", None)
    return subprocess.run(
        [sys.executable, "-m", "lmspec.cli", *args], capture_output=True, text=True, env=env, timeout=900, check=False
    )


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("quickstart")
    make(folder / "data" / "quickstart", paragraphs=500)
    spec = folder / "quickstart.toml"
    spec.write_text(
        (REPO / "examples" / "quickstart.toml").read_text().replace("train_steps = 200", "train_steps = 30")
    )
    root = folder / "runs"
    done = _lmspec("run", str(spec), "--root", str(root), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    return spec, root


def test_every_artifact_has_lineage_back_to_the_raw_crawl(quickstart: tuple[Path, Path]) -> None:
    _, root = quickstart
    catalog = Catalog(f"sqlite:///{root / 'catalog.sqlite'}").open(create=False)
    records = {r.step_name: r for r in catalog.artifacts()}
    assert set(records) == {
        "pages", "text", "quality", "clean", "deduped", "tokenizer", "clean_tokens", "raw_tokens",
        "model_clean", "model_raw", "eval_clean", "eval_raw",
    }  # fmt: skip
    assert all(r.status == "succeeded" for r in records.values())
    by_path = {r.output_path: r for r in records.values()}
    for name in ("eval_clean", "eval_raw"):
        seen, frontier = set(), [records[name]]
        while frontier:
            record = frontier.pop()
            seen.add(record.step_name)
            frontier.extend(by_path[path] for path in record.inputs.values())
        assert {"pages", "text", "tokenizer"} <= seen
    assert records["pages"].config["paths"] == ["data/quickstart/crawl.warc.gz"]
    for name in ("eval_clean", "eval_raw"):
        metrics = records[name].metrics
        assert 0.5 < metrics["clean_tokens/bits_per_byte"] < 8.0
        assert 0.0 <= metrics["lmspec_cloze/acc"] <= 1.0
        assert metrics["lmspec_cloze/acc_stderr"] > 0.0
    assert len(catalog.series(records["model_clean"].output_path)["loss"]) == 30


def test_report_compares_the_two_models(quickstart: tuple[Path, Path], tmp_path: Path) -> None:
    spec, root = quickstart
    done = _lmspec("report", str(spec), "--root", str(root), "--output", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"report: {tmp_path / 'report.html'}" in done.stdout
    markdown = (tmp_path / "report.md").read_text()
    table = markdown.split("## Results\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert table[0].startswith("| evaluate | model | clean_tokens/bits_per_byte | clean_tokens/perplexity |")
    rows = {line.split(" | ")[0].strip("| "): line for line in table[2:]}
    assert set(rows) == {"eval_clean", "eval_raw"}
    assert all(" ± " in row for row in rows.values())  # every value with its stderr
    assert "| clean_tokens/bits_per_byte | eval_clean | eval_raw |" in markdown  # the paired comparison
    assert (tmp_path / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table>" in (tmp_path / "report.html").read_text()


def test_a_rerun_is_all_cached(quickstart: tuple[Path, Path]) -> None:
    spec, root = quickstart
    done = _lmspec("run", str(spec), "--root", str(root), "--quiet")
    assert done.returncode == 0
    assert "12 steps: 12 cached" in done.stdout


def test_adapter_matches_a_direct_forward_pass_and_training_helps(quickstart: tuple[Path, Path]) -> None:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from lmspec.runtime.evaluation.adapter import MaxTextLM
    from lmspec.runtime.evaluation.perplexity import held_out, score_split
    from lmspec.schemas.evaluation import PerplexitySet

    _, root = quickstart
    [model_dir] = [p for p in root.glob("model_clean-*") if "." not in p.name]
    [tokens_dir] = [p for p in root.glob("clean_tokens-*") if "." not in p.name]
    trained = MaxTextLM(path=str(model_dir), batch_size=4)

    class Request:
        def __init__(self, *args: object) -> None:
            self.args = args

    context, continuation = "The import statement", " binds a name in the local namespace."
    [(logprob, _)] = trained.loglikelihood([Request(context, continuation)])
    context_ids = [trained.prefix_token_id, *trained.tok_encode(context)]
    whole = [trained.prefix_token_id, *trained.tok_encode(context + continuation)]
    n = len(whole) - len(context_ids)
    # The same tokens through the MaxText model object itself, full logits, no batching or padding.
    tokens = jnp.asarray([whole[:-1]], dtype=jnp.int32)
    positions = jnp.arange(len(whole) - 1, dtype=jnp.int32)[None]
    logits = trained.scorer._model(
        decoder_input_tokens=tokens,
        decoder_positions=positions,
        decoder_segment_ids=jnp.ones_like(tokens),
        enable_dropout=False,
    )
    direct = np.asarray(jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1))[0]
    expected = sum(direct[i, whole[i + 1]] for i in range(len(whole) - 1 - n, len(whole) - 1))
    assert logprob == pytest.approx(float(expected), abs=1e-3)

    untrained = MaxTextLM(path=str(model_dir), batch_size=4, checkpoint="checkpoints/0/items")
    split = held_out(tokens_dir)
    whole_set = PerplexitySet(data="@clean_tokens")
    before = score_split(untrained, split, whole_set)[0]["bits_per_byte"]
    after = score_split(trained, split, whole_set)[0]["bits_per_byte"]
    assert after < before - 0.5, (before, after)
    assert math.isfinite(after)


def test_unknown_task_fails_before_loading_with_close_matches(quickstart: tuple[Path, Path]) -> None:
    spec, root = quickstart
    bad = spec.with_name("typo.toml")
    bad.write_text(
        spec.read_text().replace(
            'tasks = ["lmspec_cloze"] }\n\n[steps.eval_raw]', 'tasks = ["lmspec_clozee"] }\n\n[steps.eval_raw]'
        )
    )
    done = _lmspec("run", str(bad), "--root", str(root), "--quiet")
    assert done.returncode == 1
    assert "unknown lm-eval task `lmspec_clozee`; close matches: lmspec_cloze" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_hub_task_while_offline_fails_before_the_model_loads(quickstart: tuple[Path, Path]) -> None:
    spec, root = quickstart
    hub = spec.with_name("hub.toml")
    hub.write_text(
        spec.read_text().replace(
            'tasks = ["lmspec_cloze"] }\n\n[steps.eval_raw]',
            'tasks = ["lmspec_cloze", "hellaswag"] }\n\n[steps.eval_raw]',
        )
    )
    done = _lmspec("run", str(hub), "--root", str(root), "--quiet", HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "lm-eval task(s) hellaswag download their data from the Hugging Face Hub, and offline mode is on" in out
    assert "use the offline tasks (lmspec_cloze)" in out
    assert "Traceback" not in out
    logs = [log.read_text() for log in root.glob("eval_clean-*.failed/lmspec-step.log")]
    [log] = [text for text in logs if "hellaswag" in text]  # the typo test above leaves a failed attempt too
    assert "bits_per_byte" not in log  # the task data is loaded before the model, so no time went on scoring


def test_a_model_without_its_tokenizer_is_a_clear_error(quickstart: tuple[Path, Path], tmp_path: Path) -> None:
    from lmspec.runtime.evaluation.model import MaxTextScorer, ModelLoadError

    _, root = quickstart
    [model_dir] = [p for p in root.glob("model_clean-*") if "." not in p.name]
    for name in ("model.json", "maxtext-flags.json"):
        (tmp_path / name).write_bytes((model_dir / name).read_bytes())
    with pytest.raises(ModelLoadError, match=r"has no tokenizer .*tokenizer\.json is missing"):
        MaxTextScorer(tmp_path)
