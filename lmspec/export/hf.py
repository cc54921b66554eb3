"""`lmspec export STEP OUT --format hf`: a train step's final checkpoint as a Hugging Face Llama checkpoint.

lmspec trains MaxText's default decoder, which is Llama's: RMSNorm before attention and MLP, rotary
embeddings on the two halves of each head (`rotate_half`, as Hugging Face's Llama), a SwiGLU MLP, untied
input and output embeddings. So the export is a renaming plus three layout changes, from the weights the
evaluation itself loads (`lmspec.runtime.evaluation.model.load_model`):

- MaxText stacks the layers' weights along one axis (`scan_layers`); each layer gets its own tensors;
- MaxText's kernels are [in, out] (per head: [emb, heads, head_dim]); PyTorch's Linear is [out, in];
- MaxText folds attention's 1/sqrt(head_dim) into the query kernel (Hugging Face applies it in attention),
  so the query weights are multiplied by sqrt(head_dim), as MaxText's own converter does.

OUT gets `model.safetensors`, `config.json` (LlamaForCausalLM), `generation_config.json` and the
tokenizer (`tokenizer.json`, `tokenizer_config.json` with its chat template when it has one), and loads
with `transformers.AutoModelForCausalLM.from_pretrained(OUT)`. The test compares its logits with MaxText's
forward pass (float32, CPU: within 1e-4). OUT is written to a temporary sibling and renamed into place.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from lmspec.errors import LmspecError
from lmspec.outputs.model import ModelCheckpoint, ModelInfo
from lmspec.schemas.training import ModelConfig

FORMATS = ("hf",)
WEIGHTS_FILE = "model.safetensors"
LLAMA_FIELDS = ("preset", "emb_dim", "num_layers", "num_heads", "num_kv_heads", "mlp_dim", "head_dim", "seq_len")
"""Model settings the Llama export maps; any other setting away from its default has no Llama equivalent."""
LAYERS = "decoder/layers/"
"""Where MaxText keeps the decoder layers' weights, stacked along its scan axis."""
MAXTEXT_LLAMA = {"decoder_block": "llama2", "rope_type": "default", "logits_via_embedding": False, "use_qk_norm": False}
"""MaxText settings the mapping assumes (its defaults, which lmspec's lowering keeps)."""


class ExportError(LmspecError):
    """A model that cannot be exported as asked, or an output folder that is in the way."""


def export_hf(train_output: Path, out: Path) -> Path:
    """Write the Hugging Face checkpoint of a train step's output into `out` (which must not hold files)."""
    from lmspec.runtime.evaluation.model import load_model

    checkpoint = ModelCheckpoint(train_output)
    info = checkpoint.info()
    check_llama(info.dimensions)
    if out.exists() and any(out.iterdir()):
        raise ExportError(f"{out} is not empty: export into a new folder (or remove it)")
    loaded = load_model(checkpoint.flags(), checkpoint.final_checkpoint())
    _check_maxtext(loaded.config)
    tmp = out.with_name(f"{out.name}.tmp-export")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    _write_weights(hf_weights(_params(loaded.model), info, int(loaded.config.param_scan_axis)), tmp / WEIGHTS_FILE)
    tokenizer = checkpoint.tokenizer.load()
    _write_config(info, loaded.config, tokenizer, tmp)
    tokenizer.save_pretrained(str(tmp))
    if out.exists():
        out.rmdir()
    os.replace(tmp, out)
    return out


def check_llama(model: ModelConfig) -> None:
    """Refuse a model with any setting the Llama mapping has no equivalent for (experts, extra norms, ...)."""
    defaults = ModelConfig()
    odd = [n for n in type(model).model_fields if n not in LLAMA_FIELDS and n not in ("vocab_size", "dtype")]
    unmapped = [n for n in odd if getattr(model, n) != getattr(defaults, n)]
    if unmapped:
        settings = ", ".join(f"{n} = {getattr(model, n)!r}" for n in unmapped)
        raise ExportError(f"the Llama export has no equivalent for {settings}: only dense Llama-style models export")


def _check_maxtext(config: Any) -> None:
    settings = {k: getattr(getattr(config, k), "value", getattr(config, k)) for k in MAXTEXT_LLAMA}  # enums by value
    wrong = {k: v for k, v in settings.items() if v != MAXTEXT_LLAMA[k]}
    if wrong or not config.scan_layers:
        raise ExportError(f"the model was trained with MaxText settings the Llama export does not map: {wrong}")


def _params(model: Any) -> dict[str, np.ndarray]:
    """Every parameter of a MaxText model as `decoder/layers/mlp/wi_0/kernel` -> array."""
    from flax import nnx

    return {
        "/".join(str(p) for p in path): np.asarray(variable[...], dtype=np.float32)
        for path, variable in nnx.to_flat_state(nnx.state(model, nnx.Param))
    }


def hf_weights(params: dict[str, np.ndarray], info: ModelInfo, scan_axis: int) -> dict[str, np.ndarray]:
    """MaxText parameters -> Hugging Face Llama state dict (see the module docstring)."""
    dims = info.dimensions
    weights = {
        "model.embed_tokens.weight": params["token_embedder/embedding"],
        "model.norm.weight": params["decoder/decoder_norm/scale"],
        "lm_head.weight": params["decoder/logits_dense/kernel"].T,
    }
    stacked = {name.removeprefix(LAYERS): array for name, array in params.items() if name.startswith(LAYERS)}
    for i in range(dims.num_layers):
        layer = {name: np.take(array, i, axis=scan_axis) for name, array in stacked.items()}
        hf = f"model.layers.{i}."
        weights |= {
            hf + "self_attn.q_proj.weight": _linear(layer["self_attention/query/kernel"]) * math.sqrt(dims.head_dim),
            hf + "self_attn.k_proj.weight": _linear(layer["self_attention/key/kernel"]),
            hf + "self_attn.v_proj.weight": _linear(layer["self_attention/value/kernel"]),
            hf + "self_attn.o_proj.weight": layer["self_attention/out/kernel"].reshape(-1, dims.emb_dim).T,
            hf + "mlp.gate_proj.weight": layer["mlp/wi_0/kernel"].T,
            hf + "mlp.up_proj.weight": layer["mlp/wi_1/kernel"].T,
            hf + "mlp.down_proj.weight": layer["mlp/wo/kernel"].T,
            hf + "input_layernorm.weight": layer["pre_self_attention_layer_norm/scale"],
            hf + "post_attention_layernorm.weight": layer["post_self_attention_layer_norm/scale"],
        }
    return {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}


def _linear(kernel: np.ndarray) -> np.ndarray:
    """[emb, heads, head_dim] -> PyTorch Linear's [heads * head_dim, emb]."""
    return np.asarray(kernel.reshape(kernel.shape[0], -1).T)


def _write_weights(weights: dict[str, np.ndarray], path: Path) -> None:
    from safetensors.numpy import save_file

    save_file(weights, str(path), metadata={"format": "pt"})


def _write_config(info: ModelInfo, config: Any, tokenizer: Any, folder: Path) -> None:
    from transformers import GenerationConfig, LlamaConfig

    dims = info.dimensions
    ids = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    LlamaConfig(
        architectures=["LlamaForCausalLM"],
        vocab_size=info.vocab_size,
        hidden_size=dims.emb_dim,
        intermediate_size=dims.mlp_dim,
        num_hidden_layers=dims.num_layers,
        num_attention_heads=dims.num_heads,
        num_key_value_heads=dims.num_kv_heads,
        head_dim=dims.head_dim,
        hidden_act="silu",
        max_position_embeddings=dims.seq_len,
        rms_norm_eps=float(config.normalization_layer_epsilon),
        rope_parameters={"rope_type": "default", "rope_theta": float(config.rope_max_timescale)},
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
        **ids,
    ).save_pretrained(str(folder))
    GenerationConfig(pad_token_id=tokenizer.pad_token_id, **ids).save_pretrained(str(folder))
