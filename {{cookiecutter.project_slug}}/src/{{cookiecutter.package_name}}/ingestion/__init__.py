"""Ingestion: validate raw records, keep the good ones, dead-letter the rest."""
