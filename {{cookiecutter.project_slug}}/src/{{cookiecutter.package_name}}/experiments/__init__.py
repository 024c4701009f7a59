"""Online experiments: sticky assignment and analysis."""
