"""Batch scoring: score every user against the candidate items with the champion model.

Reads the offline feature tables and the champion from the registry; writes
``scores/predictions.parquet`` under ``var_dir`` (user, item, prediction, rank, model version),
in chunks so memory stays flat as the number of users grows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..features.store import assemble, context_columns, open_store
from ..registry.registry import open_registry
from ..settings import Settings

POPULARITY = f"{schema.ITEM_ENTITY}_popularity"


def score_all(settings: Settings, n_candidates: int | None = None, chunk_users: int = 500) -> dict:
    """Score users x the most popular items; keep each user's top ``top_k``; return a summary."""
    bundle, info = open_registry(settings).load("champion")
    store = open_store(settings)
    users = pd.read_parquet(store.offline_path("user"))
    items = pd.read_parquet(store.offline_path("item"))
    items = items.nlargest(n_candidates or max(settings.top_k * 2, 1), POPULARITY)
    n_items = len(items)
    frames = []
    for start in range(0, len(users), chunk_users):
        chunk = users.iloc[start : start + chunk_users]
        user_cols = {
            c: np.repeat(chunk[c].to_numpy(), n_items) for c in schema.feature_names("user")
        }
        item_cols = {
            c: np.tile(items[c].to_numpy(), len(chunk)) for c in schema.feature_names("item")
        }
        matrix = assemble(user_cols, item_cols, context_columns(None, len(chunk) * n_items))
        output = bundle["predictor"].predict(matrix)
        ranking = output if output.ndim == 1 else output.max(axis=1)
        frame = pd.DataFrame(
            {
                schema.USER_KEY: np.repeat(chunk[schema.USER_KEY].to_numpy(), n_items),
                schema.ITEM_KEY: np.tile(items[schema.ITEM_KEY].to_numpy(), len(chunk)),
                "prediction": list(output) if output.ndim == 2 else output,
                "_score": ranking,
            }
        )
        frame["rank"] = frame.groupby(schema.USER_KEY)["_score"].rank(
            ascending=False, method="first"
        )
        frames.append(frame[frame["rank"] <= settings.top_k].drop(columns="_score"))
    scores = pd.concat(frames, ignore_index=True).astype({"rank": "int64"})
    scores["model_version"] = int(info["version"])
    path = settings.directory("scores") / "predictions.parquet"
    scores.to_parquet(path, index=False)
    return {"rows": len(scores), "users": int(scores[schema.USER_KEY].nunique()), "path": str(path)}
