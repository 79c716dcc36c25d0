"""Benchmarks for Parley; run `python -m bench.core` from the repository root."""
