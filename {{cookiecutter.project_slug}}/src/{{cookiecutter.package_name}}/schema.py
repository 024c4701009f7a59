"""The feature schema: entities, label, task and every feature, defined once.

Training (``features.store.get_training_frame``), the online store and serving all read the
feature list and the interaction transform from here, so offline and online vectors match.
A user or item feature is either a column of its clean entity table or, when it has an
``aggregate``, aggregated from the clean events over the trailing ``AGGREGATION_WINDOW_DAYS``
(``features.store.feature_sql``, run by DuckDB or Spark).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

TASK = "{{ cookiecutter.ml_task }}"
USER_ENTITY = "{{ cookiecutter.user_entity }}"
ITEM_ENTITY = "{{ cookiecutter.item_entity }}"
USER_KEY = f"{USER_ENTITY}_id"
ITEM_KEY = f"{ITEM_ENTITY}_id"
LABEL = "{{ cookiecutter.label }}"
EVENT_KEY = "event_id"
QUERY_KEY = "query_id"
EVENT_TIME = "event_time"
N_CLASSES = 3
"""Classes (multiclass) or labels (multilabel, stored as a bit mask in the label column)."""
CONTAINS_PII = {{ 'True' if cookiecutter.contains_pii else 'False' }}
AGGREGATION_WINDOW_DAYS = 7
"""Aggregated features count clean events with ``as_of - 7 days < event_time <= as_of``, where
``as_of`` is the newest event time in the clean events: a snapshot as of that event, which
training rows join too (not point-in-time values: an older training row sees later events)."""


@dataclass(frozen=True)
class Feature:
    name: str
    group: str
    dtype: str
    pii: bool = False
    description: str = ""
    aggregate: str = ""
    """SQL aggregate over the entity's clean events in the window (DuckDB and Spark SQL);
    empty for a column copied from the clean entity table."""

    @property
    def source(self) -> str:
        """Where the feature comes from: ``entity`` (its clean table) or ``events``."""
        return "events" if self.aggregate else "entity"


FEATURES: tuple[Feature, ...] = (
    Feature(f"{USER_ENTITY}_age", "user", "float64", CONTAINS_PII, "age in years"),
    Feature(f"{USER_ENTITY}_tenure_days", "user", "float64", CONTAINS_PII, "days since signup"),
    Feature(f"{USER_ENTITY}_activity_7d", "user", "float64", CONTAINS_PII, "events in 7 days"),
    Feature(
        f"{USER_ENTITY}_price_affinity", "user", "float64", CONTAINS_PII, "preferred price, 0-1"
    ),
    Feature(f"{ITEM_ENTITY}_price", "item", "float64", False, "price, 1-100"),
    Feature(f"{ITEM_ENTITY}_popularity", "item", "float64", False, "share of recent traffic, 0-1"),
    Feature(f"{ITEM_ENTITY}_quality", "item", "float64", False, "quality score, 0-1"),
    Feature(
        f"{ITEM_ENTITY}_events_{AGGREGATION_WINDOW_DAYS}d",
        "item",
        "float64",
        False,
        "events of the item in the window",
        "COUNT(*)",
    ),
    Feature(
        f"{ITEM_ENTITY}_users_{AGGREGATION_WINDOW_DAYS}d",
        "item",
        "float64",
        False,
        "distinct users of the item in the window",
        f"COUNT(DISTINCT {USER_KEY})",
    ),
    Feature("hour_of_day", "context", "int64", False, "request hour, 0-23"),
    Feature("is_weekend", "context", "int64", False, "1 on Saturday and Sunday"),
    Feature(
        f"{USER_ENTITY}_{ITEM_ENTITY}_price_gap",
        "interaction",
        "float64",
        False,
        "|affinity - price|",
    ),
)
GROUPS = ("user", "item", "context", "interaction")
CONTEXT_DEFAULTS = {"hour_of_day": 12, "is_weekend": 0}
CONTEXT_RANGES = {"hour_of_day": (0, 23), "is_weekend": (0, 1)}
FALLBACK_VALUES = {
    f"{USER_ENTITY}_age": 40.0,
    f"{USER_ENTITY}_tenure_days": 300.0,
    f"{USER_ENTITY}_activity_7d": 5.0,
    f"{USER_ENTITY}_price_affinity": 0.5,
    f"{ITEM_ENTITY}_price": 50.0,
    f"{ITEM_ENTITY}_popularity": 0.1,
    f"{ITEM_ENTITY}_quality": 0.5,
    f"{ITEM_ENTITY}_events_{AGGREGATION_WINDOW_DAYS}d": 7.0,
    f"{ITEM_ENTITY}_users_{AGGREGATION_WINDOW_DAYS}d": 7.0,
}
"""User and item feature values served when the online store fails and
``feature_store_fallback`` is ``defaults``: typical values of the synthetic data (set your own)."""
FEATURE_LIMIT = 1e12
"""Largest magnitude of a feature that serving accepts: far past any real value, and small
enough that no model's arithmetic overflows to inf (a score of inf - inf is NaN)."""


def feature_names(group: str | None = None) -> list[str]:
    """Return feature names in model order, optionally of one group."""
    return [f.name for f in FEATURES if group is None or f.group == group]


def entity_features(group: str) -> list[str]:
    """Return the features of ``group`` that are columns of its clean entity table."""
    return [f.name for f in FEATURES if f.group == group and f.source == "entity"]


def aggregated_features(group: str) -> list[Feature]:
    """Return the features of ``group`` aggregated from clean events (``Feature.aggregate``)."""
    return [f for f in FEATURES if f.group == group and f.source == "events"]


def pii_features() -> list[str]:
    return [f.name for f in FEATURES if f.pii]


def interaction_features(users: dict[str, np.ndarray], items: dict[str, np.ndarray]) -> np.ndarray:
    """Return the interaction columns from user and item columns (one transform, both paths)."""
    affinity = np.asarray(users[f"{USER_ENTITY}_price_affinity"], dtype=np.float64)
    price = np.asarray(items[f"{ITEM_ENTITY}_price"], dtype=np.float64)
    return np.abs(affinity - price / 100.0).reshape(-1, 1)


def label_matrix(labels: np.ndarray) -> np.ndarray:
    """Return the (n, N_CLASSES) 0/1 matrix of multilabel bit-mask labels."""
    return (np.asarray(labels, dtype=np.int64)[:, None] >> np.arange(N_CLASSES)) & 1


def as_dict() -> dict:
    return {
        "task": TASK,
        "entities": {"user": USER_KEY, "item": ITEM_KEY},
        "label": LABEL,
        "n_classes": N_CLASSES,
        "features": [asdict(f) for f in FEATURES],
    }


def schema_hash() -> str:
    """Return the sha256 of the canonical JSON schema; models record it, serving checks it."""
    canonical = json.dumps(as_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
