"""lmspec: declarative language-model experiments, compiled to a hashed plan and run on real engines."""

__version__ = "0.1.0"
