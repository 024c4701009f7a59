"""Offline evaluation: the task's metrics for the model and for a trivial baseline.

binary: AUC and log loss vs the base rate; multiclass: accuracy and macro-F1 vs the majority
class; multilabel: micro-F1 vs the best constant answer; regression: MAE vs the median;
ranking: NDCG@5 vs item popularity; retrieval: recall@10 over the catalogue vs popularity.
A model that does not beat its baseline is not promoted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from .. import schema
from ..features.store import assemble, context_columns

K_RANKING = 5
K_RETRIEVAL = 10
POPULARITY = f"{schema.ITEM_ENTITY}_popularity"


def ndcg_at_k(groups: np.ndarray, relevance: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Return the mean NDCG@k over query groups that have a relevant item."""
    values = []
    for group in np.unique(groups):
        mask = groups == group
        rel, score = relevance[mask].astype(np.float64), scores[mask]
        discounts = 1.0 / np.log2(np.arange(2, min(k, len(rel)) + 2))
        ideal = ((2.0 ** np.sort(rel)[::-1][:k] - 1.0) * discounts).sum()
        if ideal > 0:
            values.append(
                ((2.0 ** rel[np.argsort(-score, kind="stable")][:k] - 1.0) * discounts).sum()
                / ideal
            )
    return float(np.mean(values)) if values else 0.0


def recall_at_k(score_matrix: np.ndarray, positives: list[set[int]], k: int) -> float:
    """Return mean recall@k: the share of each user's positive items in the top ``k`` scores."""
    top = np.argsort(-score_matrix, axis=1, kind="stable")[:, :k]
    recalls = [
        len(set(row) & pos) / len(pos) for row, pos in zip(top, positives, strict=True) if pos
    ]
    return float(np.mean(recalls)) if recalls else 0.0


def catalogue_scores(
    predictor, test: pd.DataFrame, max_users: int = 200
) -> tuple[dict, list[set[int]]]:
    """Score every (test user, catalogue item) pair; return model and popularity score matrices."""
    users = test.drop_duplicates(schema.USER_KEY).head(max_users)
    items = test.drop_duplicates(schema.ITEM_KEY).sort_values(schema.ITEM_KEY)
    n_users, n_items = len(users), len(items)
    user_cols = {c: np.repeat(users[c].to_numpy(), n_items) for c in schema.feature_names("user")}
    item_cols = {c: np.tile(items[c].to_numpy(), n_users) for c in schema.feature_names("item")}
    matrix = assemble(user_cols, item_cols, context_columns(None, n_users * n_items))
    item_index = {item: k for k, item in enumerate(items[schema.ITEM_KEY])}
    clicked = test[test[schema.LABEL] > 0].groupby(schema.USER_KEY)[schema.ITEM_KEY].agg(set)
    positives = [{item_index[i] for i in clicked.get(u, set())} for u in users[schema.USER_KEY]]
    scores = {
        "model": predictor.predict(matrix).reshape(n_users, n_items),
        "baseline": np.tile(items[POPULARITY].to_numpy(), (n_users, 1)),
    }
    return scores, positives


def evaluate(predictor, train: pd.DataFrame, test: pd.DataFrame, x_test: np.ndarray) -> dict:
    """Return ``{metric, model, baseline, higher_is_better, beats_baseline, ...}`` on ``test``."""
    y_train, y_test = train[schema.LABEL].to_numpy(), test[schema.LABEL].to_numpy()
    pred = predictor.predict(x_test)
    extra: dict[str, float] = {}
    higher = True
    if schema.TASK == "binary_classification":
        name, prior = "auc", float(y_train.mean())
        model, baseline = skm.roc_auc_score(y_test, pred), 0.5
        extra["logloss"] = skm.log_loss(y_test, np.clip(pred, 1e-7, 1 - 1e-7), labels=[0, 1])
        extra["baseline_logloss"] = skm.log_loss(y_test, np.full(len(y_test), prior), labels=[0, 1])
    elif schema.TASK == "multiclass":
        name, majority = "macro_f1", np.bincount(y_train.astype(np.int64)).argmax()
        labels = pred.argmax(axis=1)
        model = skm.f1_score(y_test, labels, average="macro")
        baseline = skm.f1_score(y_test, np.full(len(y_test), majority), average="macro")
        extra["accuracy"] = skm.accuracy_score(y_test, labels)
    elif schema.TASK == "multilabel":
        name, truth = "micro_f1", schema.label_matrix(y_test)
        model = skm.f1_score(truth, (pred >= 0.5).astype(np.int64), average="micro")
        baseline = max(
            skm.f1_score(truth, np.full_like(truth, constant), average="micro", zero_division=0.0)
            for constant in (0, 1)
        )
    elif schema.TASK == "regression":
        name, higher = "mae", False
        model = skm.mean_absolute_error(y_test, pred)
        baseline = skm.mean_absolute_error(y_test, np.full(len(y_test), np.median(y_train)))
    elif schema.TASK == "ranking":
        name, groups = f"ndcg@{K_RANKING}", test[schema.QUERY_KEY].to_numpy()
        model = ndcg_at_k(groups, y_test, pred, K_RANKING)
        baseline = ndcg_at_k(groups, y_test, test[POPULARITY].to_numpy(), K_RANKING)
    else:
        name = f"recall@{K_RETRIEVAL}"
        scores, positives = catalogue_scores(predictor, test)
        model = recall_at_k(scores["model"], positives, K_RETRIEVAL)
        baseline = recall_at_k(scores["baseline"], positives, K_RETRIEVAL)
        extra["auc"] = skm.roc_auc_score(y_test, pred)
    model, baseline = float(model), float(baseline)
    return {
        "metric": name,
        "model": model,
        "baseline": baseline,
        "higher_is_better": higher,
        "beats_baseline": model > baseline if higher else model < baseline,
        **{key: float(value) for key, value in extra.items()},
    }
