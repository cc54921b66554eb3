"""Evaluation of trained checkpoints: bits-per-byte on held-out splits and lm-eval tasks."""
