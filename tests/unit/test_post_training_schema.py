"""sft, dpo and the model's architecture options as a user writes them: valid specs, and each mistake located."""

from __future__ import annotations

import pytest

from lmspec.compiler.identity import fingerprint
from lmspec.schemas.post_training import Dpo, Sft
from lmspec.schemas.training import ModelConfig, Train
from tests.conftest import diagnostics_of

HEAD = '[experiment]\nname = "x"\n\n'
DATA = (
    '[steps.raw]\nkind = "ingest"\npaths = ["a.jsonl"]\nformat = "jsonl"\n\n'
    '[steps.chat]\nkind = "ingest"\npaths = ["c.jsonl"]\nformat = "chat"\n\n'
    '[steps.prefs]\nkind = "ingest"\npaths = ["p.jsonl"]\nformat = "preference"\n\n'
    '[steps.tok]\nkind = "train_tokenizer"\ninput = "@raw"\n\n'
    '[steps.tokens]\nkind = "tokenize"\ninput = "@raw"\ntokenizer = "@tok"\n\n'
    '[steps.base]\nkind = "train"\ndata = "@tokens"\nsteps = 10\nbatch_size = 2\n\n'
)
"""Lines 4-33 after HEAD (line 33 blank): chat and preference data, and a base model to start from."""
SFT = '[steps.sft]\nkind = "sft"\ninit_from = "@base"\ndata = "@chat"\nsteps = 10\nbatch_size = 2\n'
"""Lines 34-39."""
DPO = '\n[steps.dpo]\nkind = "dpo"\ninit_from = "@sft"\ndata = "@prefs"\nsteps = 10\nbatch_size = 2\n'
"""Lines 40-46 after SFT (line 40 blank)."""
VALID = HEAD + DATA + SFT + DPO


def _one(tmp_path_factory: pytest.TempPathFactory, text: str) -> tuple[int, int, str, str]:
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    path.write_text(text, encoding="utf-8")
    found = diagnostics_of(path)
    assert len(found) == 1, [d.format() for d in found]
    return found[0].line, found[0].col, found[0].field, found[0].message


def test_the_issue_s_spec_shape_validates(tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("spec") / "spec.toml"
    moe = '\n[steps.moe]\nkind = "train"\ndata = "@tokens"\nsteps = 5\nbatch_size = 2\n'
    moe += 'model = { preset = "tiny", num_experts = 4, experts_per_token = 2, qk_norm = true }\n'
    hybrid = '\n[steps.hybrid]\nkind = "train"\ndata = "@tokens"\nsteps = 5\nbatch_size = 2\n'
    hybrid += 'model = { preset = "tiny", post_attn_norm = true, qk_norm = true }\n'
    path.write_text(VALID + moe + hybrid, encoding="utf-8")
    assert diagnostics_of(path) == []


CASES = [
    # (id, spec text, line, col, field, message fragment)
    (
        "unknown-template",
        VALID + 'chat_template = "chatmll"\n',
        47,
        17,
        "steps.dpo.chat_template",
        "unknown template `chatmll`; expected one of chatml, zephyr, tokenizer, or a Jinja template",
    ),
    (
        "broken-jinja",
        VALID + "chat_template = \"{% for m in messages %}{{ m['content'] }}\"\n",
        47,
        17,
        "steps.dpo.chat_template",
        "is not a valid Jinja template: Unexpected end of template",
    ),
    ("train-on", HEAD + DATA + SFT + 'train_on = "user"\n', 40, 12, "steps.sft.train_on", '"assistant", "all"'),
    (
        "init-from-not-a-model",
        HEAD + DATA + SFT.replace('init_from = "@base"', 'init_from = "@chat"'),
        36,
        13,
        "steps.sft.init_from",
        "`@chat` is an ingest step, which produces documents; `init_from` needs a model checkpoint",
    ),
    (
        "init-from-required",
        HEAD + DATA + SFT.replace('init_from = "@base"\n', ""),
        34,
        8,
        "steps.sft.init_from",
        "missing required field `init_from`",
    ),
    (
        "sft-has-no-validation",
        HEAD + DATA + SFT + "eval_every = 5\n",
        40,
        14,
        "steps.sft.eval_every",
        "post-training computes no validation loss; score the model with an evaluate step",
    ),
    (
        "prompt-fills-the-sequence",
        VALID + "max_prompt_length = 128\n",
        47,
        21,
        "steps.dpo.max_prompt_length",
        "leaves no room for the response in model.seq_len = 128",
    ),
    (
        "more-experts-per-token-than-experts",
        HEAD + DATA + SFT + "model = { num_experts = 2, experts_per_token = 4 }\n",
        40,
        48,
        "steps.sft.model.experts_per_token",
        "routes each token to more experts than the 2 there are",
    ),
    (
        "hybrid-norm-with-experts",
        HEAD + DATA + SFT + "model = { num_experts = 4, post_attn_norm = true }\n",
        40,
        45,
        "steps.sft.model.post_attn_norm",
        "no decoder block with both routed experts and post-attention norms",
    ),
    (
        "chat-eval-needs-data",
        VALID + '\n[steps.e]\nkind = "evaluate"\nmodel = "@dpo"\nchat = { limit = 5 }\n',
        51,
        8,
        "steps.e.chat.conversations",
        "name held-out `conversations`, `preferences`, or both",
    ),
]


@pytest.mark.parametrize(
    ("text", "line", "col", "field", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_post_training_mistake_is_located(
    tmp_path_factory: pytest.TempPathFactory, text: str, line: int, col: int, field: str, fragment: str
) -> None:
    found = _one(tmp_path_factory, text)
    assert found[:3] == (line, col, field)
    assert fragment in found[3]


def test_architecture_fields_change_no_existing_hash_or_dump() -> None:
    """The four fields were added later: at their defaults a model hashes and dumps as it did before them."""
    plain = Train.model_validate({"kind": "train", "data": "@t", "steps": 5, "batch_size": 2})
    dumped = plain.model_dump()
    assert not {"num_experts", "experts_per_token", "post_attn_norm", "qk_norm"} & set(dumped["model"])
    assert "num_experts" not in str(fingerprint(plain, {"t": "0" * 12}, {}))
    moe = Train.model_validate({**dumped, "model": {**dumped["model"], "num_experts": 4}})
    assert moe.model_dump()["model"]["num_experts"] == 4
    assert fingerprint(moe, {"t": "0" * 12}, {}) != fingerprint(plain, {"t": "0" * 12}, {})


def test_post_training_kinds_require_a_starting_model_and_read_no_tokenize_step() -> None:
    sft = Sft.model_validate({"kind": "sft", "init_from": "@base", "data": "@chat", "steps": 3, "batch_size": 2})
    dpo = Dpo.model_validate({"kind": "dpo", "init_from": "@sft", "data": "@prefs", "steps": 3, "batch_size": 2})
    assert (sft.mixture(), dpo.mixture()) == ({}, {})
    assert (sft.train_on, sft.chat_template, dpo.beta, dpo.prompt_length) == ("assistant", "tokenizer", 0.1, 64)
    assert ModelConfig.model_validate({"num_experts": 8, "experts_per_token": 2}).is_moe
