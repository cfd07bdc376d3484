"""Benchmarks and the GPU report: measurements of the product, run by attn-depth benchmark."""
