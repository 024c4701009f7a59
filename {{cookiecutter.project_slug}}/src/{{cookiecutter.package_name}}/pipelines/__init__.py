"""Pipelines: the whole loop in process, and its orchestrator definitions."""
