"""Exporting lmspec's outputs to other tools' formats (`lmspec export`)."""
