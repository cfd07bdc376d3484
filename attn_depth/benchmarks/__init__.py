"""Benchmarks and the GPU report: measurements of the product, run by tools/benchmark.py."""
