"""Benchmarks: run on purpose (python -m benchmarks ...), never as tests."""
