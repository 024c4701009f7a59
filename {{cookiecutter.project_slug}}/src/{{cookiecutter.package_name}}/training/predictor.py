"""Fast predictor: the model call that serving makes, without framework overhead.

A scikit-learn linear pipeline (scaler + linear model) is folded into one numpy matrix product;
other estimators are wrapped as they are. ``model_output`` is the reference the fast path must
equal (a test checks it). Outputs: P(positive) for binary and retrieval, class or label
probabilities for multiclass and multilabel, a score for regression and ranking.
"""

from __future__ import annotations

import numpy as np

from .. import schema


def model_output(estimator, features: np.ndarray, task: str = schema.TASK) -> np.ndarray:
    """Return the estimator's prediction in the project's output convention."""
    if task in ("binary_classification", "retrieval"):
        return estimator.predict_proba(features)[:, 1]
    if task == "multiclass":
        return estimator.predict_proba(features)
    if task == "multilabel":
        probabilities = estimator.predict_proba(features)
        if isinstance(probabilities, list):
            return np.column_stack([p[:, 1] for p in probabilities])
        return probabilities
    return np.asarray(estimator.predict(features), dtype=np.float64)


class LinearPredictor:
    """``link(features @ coef + intercept)`` with the scaler folded into the weights."""

    def __init__(self, coef: np.ndarray, intercept: np.ndarray, link: str) -> None:
        self.coef = np.ascontiguousarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.link = link

    def predict(self, features: np.ndarray) -> np.ndarray:
        z = np.asarray(features, dtype=np.float64) @ self.coef + self.intercept
        if self.link == "sigmoid":
            out = 1.0 / (1.0 + np.exp(-z))
        elif self.link == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            out = e / e.sum(axis=1, keepdims=True)
        else:
            out = z
        return out[:, 0] if out.shape[1] == 1 and self.link != "softmax" else out


class EstimatorPredictor:
    """Any other estimator, called through ``model_output``."""

    def __init__(self, estimator, task: str = schema.TASK) -> None:
        self.estimator = estimator
        self.task = task

    def predict(self, features: np.ndarray) -> np.ndarray:
        return model_output(self.estimator, np.asarray(features, dtype=np.float64), self.task)


def _linear_parts(model) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Return ``(coef (n_features, k), intercept (k,), link)`` of a linear model, or None."""
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
    from sklearn.multioutput import MultiOutputClassifier

    if isinstance(model, LogisticRegression):
        coef = model.coef_.T
        link = "sigmoid" if coef.shape[1] == 1 else "softmax"
        return coef, model.intercept_, link
    if isinstance(model, (Ridge, LinearRegression)):
        return np.reshape(model.coef_, (-1, 1)), np.reshape(model.intercept_, (1,)), "identity"
    if isinstance(model, MultiOutputClassifier):
        parts = [_linear_parts(inner) for inner in model.estimators_]
        if all(p is not None and p[2] == "sigmoid" for p in parts):
            coef = np.hstack([p[0] for p in parts])
            return coef, np.concatenate([p[1] for p in parts]), "multilabel"
    return None


def fast_predictor(estimator, task: str = schema.TASK) -> LinearPredictor | EstimatorPredictor:
    """Return the fastest exact predictor for ``estimator``."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler, model = None, estimator
    if isinstance(estimator, Pipeline) and len(estimator.steps) == 2:
        scaler, model = estimator.steps[0][1], estimator.steps[1][1]
        if not isinstance(scaler, StandardScaler):
            return EstimatorPredictor(estimator, task)
    parts = _linear_parts(model)
    if parts is None:
        return EstimatorPredictor(estimator, task)
    coef, intercept, link = parts
    if scaler is not None:
        mean = scaler.mean_ if scaler.with_mean else np.zeros(len(scaler.scale_))
        scale = scaler.scale_ if scaler.with_std else np.ones(len(mean))
        coef = coef / scale[:, None]
        intercept = intercept - mean @ coef
    return LinearPredictor(coef, intercept, "sigmoid" if link == "multilabel" else link)
