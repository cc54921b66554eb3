"""Data steps: the document format shared between them, and their Beam pipelines."""
