"""Make what the datashop example reads beside the quickstart's crawl, offline (run quickstart_data.py first).

    python examples/datashop_data.py [DIR]      (default: examples/data/datashop)

Writes, deterministically:
  lessons.jsonl   the labelling prompt around the quickstart's reference paragraphs, answered ` yes`, and
                  around generated junk, answered ` no`: what the example's tiny labeller is trained on,
                  standing in for an instruction-tuned model (an sft step's, once lmspec has them)
  hf-labeller/    a tiny Llama with random weights and a BPE tokenizer, saved as transformers'
                  `save_pretrained` saves one (config.json, model.safetensors, tokenizer files): the
                  Hugging Face path of `llm_label` (a random model's labels mean nothing; it shows the path)
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

from examples.quickstart_data import SEED, write_jsonl

PROMPT = "Text: {text}\nIs this text good? Answer:"
"""The labeller's question, short enough for a 128-token model: the example's `llm_label.prompt`."""
MAX_CHARS = 200
"""Lesson texts are cut here, like `llm_label.max_chars`, so prompt and answer fit the model's length."""
HF_DIMS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 1024,
}
"""The tiny labeller's Llama dimensions (bench/llm_label_throughput.py passes the 150m and 1b presets')."""


def lesson(text: str, good: bool) -> str:
    """One training document: the prompt around the text, then the answer the labeller should give."""
    return PROMPT.replace("{text}", text[:MAX_CHARS]) + (" yes" if good else " no")


def lessons(good: list[str], junk: list[str], seed: int = SEED) -> list[str]:
    """Every good text answered yes and every junk text answered no, shuffled."""
    examples = [lesson(t, True) for t in good] + [lesson(t, False) for t in junk]
    random.Random(seed).shuffle(examples)
    return examples


def write_hf_labeller(
    folder: Path, texts: list[str], seed: int = 0, vocab_size: int = 512, dims: dict[str, int] = HF_DIMS
) -> Path:
    """A random-weight Llama of `dims` and a BPE tokenizer trained on `texts` (the model's vocabulary padded to
    `vocab_size` when the texts give fewer tokens), in Hugging Face's layout."""
    import numpy as np
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<s>", "</s>", "<pad>"]
    bpe.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    tokenizer.save_pretrained(str(folder))
    config = LlamaConfig(
        vocab_size=max(vocab_size, len(tokenizer)),
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **dims,
    )
    config.save_pretrained(str(folder))
    rng = np.random.default_rng(seed)
    save_file(
        {name: _init(rng, shape) for name, shape in llama_shapes(config).items()},
        str(folder / "model.safetensors"),
        metadata={"format": "pt"},
    )
    return folder


def llama_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Hugging Face Llama's parameter names and shapes (PyTorch's Linear is [out, in])."""
    hidden, mlp = config.hidden_size, config.intermediate_size
    queries = config.num_attention_heads * config.head_dim
    kv = config.num_key_value_heads * config.head_dim
    shapes: dict[str, tuple[int, ...]] = {
        "model.embed_tokens.weight": (config.vocab_size, hidden),
        "model.norm.weight": (hidden,),
        "lm_head.weight": (config.vocab_size, hidden),
    }
    for i in range(config.num_hidden_layers):
        layer = f"model.layers.{i}."
        shapes |= {
            layer + "self_attn.q_proj.weight": (queries, hidden),
            layer + "self_attn.k_proj.weight": (kv, hidden),
            layer + "self_attn.v_proj.weight": (kv, hidden),
            layer + "self_attn.o_proj.weight": (hidden, queries),
            layer + "mlp.gate_proj.weight": (mlp, hidden),
            layer + "mlp.up_proj.weight": (mlp, hidden),
            layer + "mlp.down_proj.weight": (hidden, mlp),
            layer + "input_layernorm.weight": (hidden,),
            layer + "post_attention_layernorm.weight": (hidden,),
        }
    return shapes


def _init(rng: Any, shape: tuple[int, ...]) -> Any:
    """Norm scales at 1, every other weight from N(0, 0.02) (Llama's initializer range)."""
    import numpy as np

    if len(shape) == 1:
        return np.ones(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)


def make(folder: Path, quickstart: Path) -> dict[str, int]:
    """Write the lessons (from the quickstart corpus in `quickstart`) and the Hugging Face labeller."""
    good = [json.loads(line)["text"] for line in (quickstart / "reference.jsonl").read_text().splitlines()]
    junk = [json.loads(line)["text"] for line in (quickstart / "spam.jsonl").read_text().splitlines()]
    examples = lessons(good, junk)
    write_jsonl(folder / "lessons.jsonl", examples)
    write_hf_labeller(folder / "hf-labeller", examples)
    return {"lessons": len(examples), "good": len(good), "junk": len(junk)}


if __name__ == "__main__":
    data = Path(__file__).resolve().parent / "data"
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else data / "datashop"
    counts = make(target, data / "quickstart")
    print(f"datashop data in {target}: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
