"""Tunekit's Python training worker: the tensor-math half of the local engine."""
