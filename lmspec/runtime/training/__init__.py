"""Executors of the model side: tokenizers, tokenization, MaxText training."""
