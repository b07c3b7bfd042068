"""Benchmarks: run on purpose (python -m bot bench ...), never as tests."""
