"""The Hugging Face export's weight mapping on arrays made here (the real model, exported and loaded by
transformers with MaxText's logits, is tested in tests/integration/test_eval_breadth.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmspec.export.hf import LLAMA_FIELDS, ExportError, check_llama, hf_weights
from lmspec.outputs.model import ModelInfo
from lmspec.schemas.training import ModelConfig

DIMS = ModelConfig(emb_dim=8, num_layers=3, num_heads=2, num_kv_heads=1, mlp_dim=12, head_dim=4, seq_len=16)
VOCAB = 10


def _params() -> dict[str, np.ndarray]:
    """MaxText's parameter tree for DIMS, layers stacked on axis 1, every entry distinct."""
    e, n, h, kv, d, m = 8, 3, 2, 1, 4, 12
    shapes = {
        "token_embedder/embedding": (VOCAB, e),
        "decoder/decoder_norm/scale": (e,),
        "decoder/logits_dense/kernel": (e, VOCAB),
        "decoder/layers/self_attention/query/kernel": (e, n, h, d),
        "decoder/layers/self_attention/key/kernel": (e, n, kv, d),
        "decoder/layers/self_attention/value/kernel": (e, n, kv, d),
        "decoder/layers/self_attention/out/kernel": (h, n, d, e),
        "decoder/layers/mlp/wi_0/kernel": (e, n, m),
        "decoder/layers/mlp/wi_1/kernel": (e, n, m),
        "decoder/layers/mlp/wo/kernel": (m, n, e),
        "decoder/layers/pre_self_attention_layer_norm/scale": (e, n),
        "decoder/layers/post_self_attention_layer_norm/scale": (e, n),
    }
    rng = np.random.default_rng(0)
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


def test_layers_are_unstacked_transposed_and_the_query_rescaled() -> None:
    params = _params()
    weights = hf_weights(params, ModelInfo(DIMS, VOCAB, 0), scan_axis=1)
    assert len(weights) == 3 + 9 * 3
    query = params["decoder/layers/self_attention/query/kernel"]
    x = np.random.default_rng(1).normal(size=8).astype(np.float32)
    for layer in range(3):
        # q_proj(x) == MaxText's einsum over [emb, heads, head_dim], times sqrt(head_dim), heads concatenated
        expected = np.einsum("e,ehd->hd", x, query[:, layer]).reshape(-1) * math.sqrt(4)
        assert weights[f"model.layers.{layer}.self_attn.q_proj.weight"] @ x == pytest.approx(expected, rel=1e-5)
        out = params["decoder/layers/self_attention/out/kernel"][:, layer]
        heads = np.random.default_rng(2).normal(size=(2, 4)).astype(np.float32)
        o_proj = weights[f"model.layers.{layer}.self_attn.o_proj.weight"]
        assert o_proj @ heads.reshape(-1) == pytest.approx(np.einsum("hd,hde->e", heads, out), rel=1e-5)
        down = weights[f"model.layers.{layer}.mlp.down_proj.weight"]
        assert down.shape == (8, 12)
        np.testing.assert_array_equal(
            weights[f"model.layers.{layer}.input_layernorm.weight"],
            params["decoder/layers/pre_self_attention_layer_norm/scale"][:, layer],
        )
    assert weights["model.layers.0.self_attn.k_proj.weight"].shape == (4, 8)  # one kv head
    np.testing.assert_array_equal(weights["lm_head.weight"], params["decoder/logits_dense/kernel"].T)


def test_settings_without_a_llama_equivalent_are_refused() -> None:
    check_llama(DIMS)  # sizes are what the export maps
    for name in ModelConfig.model_fields:
        if name not in (*LLAMA_FIELDS, "vocab_size", "dtype"):  # e.g. experts, extra norms
            with pytest.raises(ExportError, match=f"no equivalent for {name} = "):
                check_llama(DIMS.model_copy(update={name: "set"}))
