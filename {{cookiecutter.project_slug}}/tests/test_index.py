from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }}.serving.index import (
    AnnIndex,
    RetrievalIndex,
    build_embeddings,
    exact_search,
    recall,
)


def test_exact_search_returns_the_best_inner_products():
    rng = np.random.default_rng(0)
    items, queries = rng.normal(size=(50, 8)), rng.normal(size=(5, 8))
    top = exact_search(items, queries, 3)
    brute = np.argsort(-(queries @ items.T), axis=1)[:, :3]
    assert top.tolist() == brute.tolist()


def test_approximate_search_recalls_the_exact_neighbours():
    pytest.importorskip("{{ cookiecutter.vector_index }}")
    rng = np.random.default_rng(1)
    items = rng.normal(size=(2000, 16)).astype(np.float32)
    queries = rng.normal(size=(100, 16)).astype(np.float32)
    found = AnnIndex(items).search(queries, 10)
    assert recall(found, exact_search(items, queries, 10)) >= 0.9


def test_candidates_come_from_the_interaction_embeddings(materialized):
    pytest.importorskip("{{ cookiecutter.vector_index }}")
    embeddings = build_embeddings(materialized.get_training_frame())
    index = RetrievalIndex(embeddings)
    user = int(embeddings["user_ids"][0])
    candidates = index.candidates(user, 5)
    assert len(candidates) == 5 and set(candidates) <= set(embeddings["item_ids"].tolist())
