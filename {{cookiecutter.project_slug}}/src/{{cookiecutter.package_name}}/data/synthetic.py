"""Seeded synthetic data for the use case, with a learnable signal for the task.

Writes ``raw/users.parquet``, ``raw/items.parquet`` and ``raw/events.parquet`` under
``var_dir`` (and ``raw/events.jsonl``, a user-activity event log for stream ingestion). Entity
tables hold entity features only: aggregated features are computed from the events later. A
small share of event rows is malformed on purpose, so the dead-letter path is exercised.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema
from ..settings import Settings

BASE_TIME = 1_700_000_000.0
"""A fixed epoch second: reruns with the same seed write identical files."""
GROUP_SIZE = 5 if schema.TASK == "ranking" else 1


def make_users(rng: np.random.Generator, n: int) -> pd.DataFrame:
    u = schema.USER_ENTITY
    return pd.DataFrame(
        {
            schema.USER_KEY: np.arange(n, dtype=np.int64),
            f"{u}_age": rng.integers(18, 80, n).astype(np.float64),
            f"{u}_tenure_days": rng.exponential(300.0, n).round(1),
            f"{u}_activity_7d": rng.poisson(5.0, n).astype(np.float64),
            f"{u}_price_affinity": rng.uniform(0.0, 1.0, n).round(4),
        }
    )


def make_items(rng: np.random.Generator, n: int) -> pd.DataFrame:
    i = schema.ITEM_ENTITY
    popularity = rng.dirichlet(np.full(n, 0.5))
    return pd.DataFrame(
        {
            schema.ITEM_KEY: np.arange(n, dtype=np.int64),
            f"{i}_price": rng.uniform(1.0, 100.0, n).round(2),
            f"{i}_popularity": (popularity / popularity.max()).round(4),
            f"{i}_quality": rng.beta(2.0, 2.0, n).round(4),
        }
    )


def make_labels(
    rng: np.random.Generator, utility: np.ndarray, taste: np.ndarray, aspects: np.ndarray
) -> np.ndarray:
    """Return labels for ``schema.TASK`` from a utility (higher = more positive), a latent taste
    (learnable only from interactions) and two more observable aspects (multilabel)."""
    n = len(utility)
    if schema.TASK == "multiclass":
        scores = np.stack([-utility, np.zeros(n), utility], axis=1) * 2.0
        return np.argmax(scores + rng.gumbel(size=scores.shape), axis=1).astype(np.int64)
    if schema.TASK == "multilabel":
        logits = np.column_stack([utility, aspects]) * 3.0
        bits = rng.uniform(size=logits.shape) < 1.0 / (1.0 + np.exp(-logits))
        return (bits * (1 << np.arange(schema.N_CLASSES))).sum(axis=1).astype(np.int64)
    if schema.TASK == "regression":
        return (10.0 + 5.0 * utility + rng.normal(0.0, 1.0, n)).round(3)
    if schema.TASK == "ranking":
        noisy = utility + rng.normal(0.0, 0.5, n)
        return np.digitize(noisy, np.quantile(noisy, [0.5, 0.8, 0.95])).astype(np.int64)
    logit = 2.0 * utility + taste - 1.0
    return (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def make_events(
    rng: np.random.Generator, users: pd.DataFrame, items: pd.DataFrame, n: int
) -> pd.DataFrame:
    """Return events: popular items are shown more (uniformly for retrieval, whose offline
    metric ranks the whole catalogue and would otherwise reward exposure, not preference)."""
    n_queries = max(n // GROUP_SIZE, 1)
    n = n_queries * GROUP_SIZE
    user_ids = np.repeat(rng.integers(0, len(users), n_queries), GROUP_SIZE)
    popularity = items[f"{schema.ITEM_ENTITY}_popularity"].to_numpy()
    exposure = None if schema.TASK == "retrieval" else popularity / popularity.sum()
    item_ids = rng.choice(len(items), size=n, p=exposure)
    offsets = np.repeat(np.sort(rng.uniform(0.0, 30 * 86_400.0, n_queries)), GROUP_SIZE)
    hour = ((offsets % 86_400) // 3600).astype(np.int64)
    weekend = (((offsets // 86_400) % 7) >= 5).astype(np.int64)
    user_cols = {c: users[c].to_numpy()[user_ids] for c in schema.entity_features("user")}
    item_cols = {c: items[c].to_numpy()[item_ids] for c in schema.entity_features("item")}
    gap = schema.interaction_features(user_cols, item_cols)[:, 0]
    taste = np.sin(user_ids * 0.7) * np.cos(item_ids * 1.3)
    utility = (
        1.5 * item_cols[f"{schema.ITEM_ENTITY}_quality"]
        + 0.8 * item_cols[f"{schema.ITEM_ENTITY}_popularity"]
        - 2.5 * gap
        + 0.3 * weekend
        + 0.05 * user_cols[f"{schema.USER_ENTITY}_activity_7d"]
    )
    quality = item_cols[f"{schema.ITEM_ENTITY}_quality"]
    aspects = np.column_stack([quality - 0.5 + 0.5 * (weekend - 0.3), 0.4 - 1.5 * gap])
    return pd.DataFrame(
        {
            schema.EVENT_KEY: [f"e{k:08d}" for k in range(n)],
            schema.QUERY_KEY: np.repeat(np.arange(n_queries, dtype=np.int64), GROUP_SIZE),
            schema.USER_KEY: user_ids.astype(np.int64),
            schema.ITEM_KEY: item_ids.astype(np.int64),
            schema.EVENT_TIME: BASE_TIME + offsets,
            "hour_of_day": hour,
            "is_weekend": weekend,
            schema.LABEL: make_labels(rng, utility - utility.mean(), taste, aspects),
        }
    )


def corrupt(rng: np.random.Generator, events: pd.DataFrame, rate: float) -> pd.DataFrame:
    """Return events with a share of malformed rows: unknown ids, bad context, missing labels."""
    events = events.copy()
    events[schema.LABEL] = events[schema.LABEL].astype(np.float64)
    bad = rng.choice(len(events), size=int(len(events) * rate), replace=False)
    for k, row in enumerate(bad):
        if k % 3 == 0:
            events.loc[row, schema.USER_KEY] = -1
        elif k % 3 == 1:
            events.loc[row, "hour_of_day"] = 99
        else:
            events.loc[row, schema.LABEL] = np.nan
    return events


def write_event_log(rng: np.random.Generator, path: Path, n_users: int, n: int) -> Path:
    """Write a JSON-lines user-activity log (one line per event, a few malformed)."""
    activity = f"{schema.USER_ENTITY}_activity_7d"
    with path.open("w", encoding="utf-8") as handle:
        for k in range(n):
            event = {
                schema.EVENT_KEY: f"s{k:08d}",
                schema.USER_KEY: int(rng.integers(0, n_users)),
                schema.EVENT_TIME: BASE_TIME + 30 * 86_400 + k,
                activity: float(rng.poisson(6.0)),
            }
            line = json.dumps(event) if k % 50 != 49 else '{"truncated": '
            handle.write(line + "\n")
    return path


def generate(settings: Settings) -> dict[str, int]:
    """Write the raw tables and the event log; return row counts."""
    rng = np.random.default_rng(settings.seed)
    users = make_users(rng, settings.n_users)
    items = make_items(rng, settings.n_items)
    events = corrupt(
        rng, make_events(rng, users, items, settings.n_events), settings.bad_record_rate
    )
    raw = settings.directory("raw")
    users.to_parquet(raw / "users.parquet", index=False)
    items.to_parquet(raw / "items.parquet", index=False)
    events.to_parquet(raw / "events.parquet", index=False)
    write_event_log(rng, raw / "events.jsonl", settings.n_users, max(settings.n_users // 4, 10))
    return {"users": len(users), "items": len(items), "events": len(events)}


def raw_user_ids(settings: Settings, keys: list[int]) -> list[int]:
    """Return the raw user ids behind ``keys`` (ids of the clean data: pseudonyms with PII).

    For the demo and the benchmark, which play a client that knows raw ids: the synthetic
    ``raw/users.parquet`` holds them. The project's own data has no way back from a pseudonym.
    """
    from ..privacy import Pseudonymizer

    raw = pd.read_parquet(settings.directory("raw") / "users.parquet")[schema.USER_KEY]
    raw = raw.dropna().astype("int64")
    back = dict(zip(Pseudonymizer(settings).column(raw), raw, strict=True))
    return [int(back[key]) for key in keys]
