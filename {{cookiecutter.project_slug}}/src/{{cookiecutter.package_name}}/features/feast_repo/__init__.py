"""Feast feature repository: entities and feature views over the offline Parquet tables."""
