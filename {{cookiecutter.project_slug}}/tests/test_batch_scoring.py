from __future__ import annotations

import pandas as pd

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.registry.registry import (
    open_registry,
)
from {{ cookiecutter.package_name }}.serving.batch import score_all


def test_every_user_gets_top_k_scores_from_the_champion(loop):
    settings, _ = loop
    summary = score_all(settings)
    scores = pd.read_parquet(summary["path"])
    per_user = scores.groupby(schema.USER_KEY)["rank"].agg(["min", "max", "count"])
    assert summary["users"] == len(per_user) > 0
    assert (per_user["min"] == 1).all() and (per_user["count"] == settings.top_k).all()
    assert set(scores["model_version"]) == {open_registry(settings).alias("champion")}
    assert not scores.duplicated([schema.USER_KEY, schema.ITEM_KEY]).any()
