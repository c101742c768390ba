"""Benchmarks: measured speed against baselines measured in the same run (`python -m bench`, `make bench`).

Each benchmark is its own module; the runner (bench/__main__.py) sets up its own databases
(bench_write, bench_read) and a private Redis, runs them in order, prints a table and writes
bench/results/<date>.md. Nothing here is imported by the product, and nothing here asserts.
"""
