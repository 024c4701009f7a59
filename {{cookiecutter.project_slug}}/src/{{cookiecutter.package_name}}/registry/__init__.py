"""Model registry: versions, champion/challenger aliases, promote and rollback."""
