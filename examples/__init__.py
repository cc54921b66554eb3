"""Runnable experiments for newcomers, and the code that makes their data."""
