"""Feature store: the one online/offline interface for training and serving."""
