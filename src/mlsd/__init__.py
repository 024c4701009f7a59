"""mlsd: from ML system design interview answers to a production ML service repository."""

__version__ = "0.2.0"
