"""Training: fit the model for the task with the configured trainer, evaluate, bundle.

Reads the training frame from the feature store; returns a bundle (estimator, fast predictor,
feature names, schema hash, metrics) that the registry stores. scikit-learn is always
available as the baseline trainer (``trainer=sklearn``); other trainers are imported only when
used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..settings import Settings
from .evaluate import evaluate
from .predictor import fast_predictor

CLASSIFIER_TASKS = ("binary_classification", "multiclass", "retrieval")


def split(frame: pd.DataFrame, test_share: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split by time: the latest queries are the test set (no future rows in training)."""
    cutoff = frame[schema.QUERY_KEY].quantile(1.0 - test_share)
    return frame[frame[schema.QUERY_KEY] < cutoff], frame[frame[schema.QUERY_KEY] >= cutoff]


def features_and_target(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    features = frame[schema.feature_names()].to_numpy(dtype=np.float64)
    target = frame[schema.LABEL].to_numpy()
    if schema.TASK == "multilabel":
        return features, schema.label_matrix(target)
    if schema.TASK == "regression":
        return features, target.astype(np.float64)
    return features, target.astype(np.int64)


def sklearn_model(task: str):
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.multioutput import MultiOutputClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if task in CLASSIFIER_TASKS:
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    if task == "multilabel":
        return make_pipeline(
            StandardScaler(), MultiOutputClassifier(LogisticRegression(max_iter=1000))
        )
    return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
{%- if cookiecutter.trainer == 'lightgbm' %}


def lightgbm_model(task: str, seed: int):
    import lightgbm as lgb
    from sklearn.multioutput import MultiOutputClassifier

    params = {"n_estimators": 150, "learning_rate": 0.05, "num_leaves": 15, "random_state": seed}
    params["verbose"] = -1
    if task in CLASSIFIER_TASKS:
        return lgb.LGBMClassifier(**params)
    if task == "multilabel":
        return MultiOutputClassifier(lgb.LGBMClassifier(**params))
    if task == "ranking":
        return lgb.LGBMRanker(**params)
    return lgb.LGBMRegressor(**params)
{%- elif cookiecutter.trainer == 'xgboost' %}


def xgboost_model(task: str, seed: int):
    import xgboost as xgb
    from sklearn.multioutput import MultiOutputClassifier

    params = {"n_estimators": 150, "learning_rate": 0.1, "max_depth": 4, "random_state": seed}
    params["tree_method"] = "hist"
    if task in CLASSIFIER_TASKS:
        return xgb.XGBClassifier(**params)
    if task == "multilabel":
        return MultiOutputClassifier(xgb.XGBClassifier(**params))
    if task == "ranking":
        return xgb.XGBRanker(**params)
    return xgb.XGBRegressor(**params)
{%- elif cookiecutter.trainer == 'pytorch' %}


class TorchMLP:
    """A small multilayer perceptron with a scikit-learn style interface."""

    def __init__(self, task: str, seed: int, hidden: int = 32, epochs: int = 300) -> None:
        self.task, self.seed, self.hidden, self.epochs = task, seed, hidden, epochs

    def fit(self, features: np.ndarray, target: np.ndarray) -> TorchMLP:
        import torch

        torch.manual_seed(self.seed)
        self.mean_ = features.mean(axis=0)
        self.scale_ = features.std(axis=0) + 1e-9
        x = torch.tensor((features - self.mean_) / self.scale_, dtype=torch.float32)
        if self.task == "multiclass":
            outputs, loss_fn = schema.N_CLASSES, torch.nn.CrossEntropyLoss()
            y = torch.tensor(target, dtype=torch.long)
        elif self.task in ("binary_classification", "retrieval", "multilabel"):
            outputs, loss_fn = (
                (schema.N_CLASSES if target.ndim == 2 else 1),
                torch.nn.BCEWithLogitsLoss(),
            )
            y = torch.tensor(target.reshape(len(target), -1), dtype=torch.float32)
        else:
            outputs, loss_fn = 1, torch.nn.MSELoss()
            y = torch.tensor(target.reshape(-1, 1), dtype=torch.float32)
        self.net_ = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, outputs),
        )
        optimizer = torch.optim.Adam(self.net_.parameters(), lr=0.01)
        for _ in range(self.epochs):
            optimizer.zero_grad()
            loss = loss_fn(self.net_(x), y)
            loss.backward()
            optimizer.step()
        # Serve in float64: float32 sums differ between a batch and a single row by ~1e-7,
        # so online and offline scores of the same row would not agree to the bit.
        self.net_ = self.net_.double().eval()
        return self

    def _logits(self, features: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.tensor((features - self.mean_) / self.scale_, dtype=torch.float64)
            return self.net_(x).numpy()

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        z = self._logits(features)
        if self.task == "multiclass":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        p = 1.0 / (1.0 + np.exp(-z))
        return p if self.task == "multilabel" else np.column_stack([1.0 - p[:, 0], p[:, 0]])

    def predict(self, features: np.ndarray) -> np.ndarray:
        return self._logits(features)[:, 0]
{%- endif %}


def build_model(task: str, trainer: str, seed: int):
    """Return an unfitted estimator for ``task`` from ``trainer``."""
{%- if cookiecutter.trainer == 'lightgbm' %}
    if trainer == "lightgbm":
        return lightgbm_model(task, seed)
{%- elif cookiecutter.trainer == 'xgboost' %}
    if trainer == "xgboost":
        return xgboost_model(task, seed)
{%- elif cookiecutter.trainer == 'pytorch' %}
    if trainer == "pytorch":
        return TorchMLP(task, seed)
{%- endif %}
    return sklearn_model(task)


def fit(model, features: np.ndarray, target: np.ndarray, queries: np.ndarray):
    """Fit ``model``; rankers get their query groups (rows of a query are contiguous)."""
    if type(model).__name__ == "LGBMRanker":
        _, sizes = np.unique(queries, return_counts=True)
        return model.fit(features, target, group=sizes)
    if type(model).__name__ == "XGBRanker":
        return model.fit(features, target, qid=queries)
    return model.fit(features, target)


def train(settings: Settings, frame: pd.DataFrame) -> dict:
    """Fit on the older rows, evaluate on the newer ones; return the model bundle."""
    train_rows, test_rows = split(frame)
    x_train, y_train = features_and_target(train_rows)
    x_test, _ = features_and_target(test_rows)
    estimator = fit(
        build_model(schema.TASK, settings.trainer, settings.seed),
        x_train,
        y_train,
        train_rows[schema.QUERY_KEY].to_numpy(),
    )
    predictor = fast_predictor(estimator)
    metrics = evaluate(predictor, train_rows, test_rows, x_test)
    return {
        "estimator": estimator,
        "predictor": predictor,
        "task": schema.TASK,
        "trainer": settings.trainer,
        "feature_names": schema.feature_names(),
        "schema_hash": schema.schema_hash(),
        "metrics": metrics,
        "rows": {"train": len(train_rows), "test": len(test_rows)},
    }
