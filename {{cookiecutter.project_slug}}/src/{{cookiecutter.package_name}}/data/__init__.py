"""Synthetic data for the use case."""
