"""Training, evaluation and the fast predictor."""
