"""Evaluations with assertions on the sample handbook: run on purpose and in CI, never timed."""
