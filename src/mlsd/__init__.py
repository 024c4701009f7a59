"""mlsd: from ML system design interview answers to a production ML service repository."""

__version__ = "0.1.0"
