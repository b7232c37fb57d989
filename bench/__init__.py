"""Benchmarks: one module per op or stage, all on the shared harness (bench/harness.py).
Run from the repository root, e.g. ``python -m bench.bench_attention``."""
