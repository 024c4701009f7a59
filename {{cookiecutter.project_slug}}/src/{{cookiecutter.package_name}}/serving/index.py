"""Embedding index for candidate retrieval ({{ 'FAISS' if cookiecutter.vector_index == 'faiss' else 'hnswlib' }} HNSW, inner product).

``build_index`` learns user and item embeddings from positive interactions (truncated SVD of
the user x item matrix), indexes the items and reports recall@k of the approximate search
against an exact numpy search. Writes ``index/embeddings.npz`` and ``index/items.index``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import schema
from ..settings import Settings

DIM = 16


def build_embeddings(frame: pd.DataFrame, dim: int = DIM, seed: int = 0) -> dict[str, np.ndarray]:
    """Return user/item ids and embeddings from the positive (label > 0) interactions."""
    from scipy.sparse import csr_matrix
    from sklearn.decomposition import TruncatedSVD

    positives = frame[frame[schema.LABEL] > 0]
    user_ids = np.sort(frame[schema.USER_KEY].unique())
    item_ids = np.sort(frame[schema.ITEM_KEY].unique())
    rows = np.searchsorted(user_ids, positives[schema.USER_KEY].to_numpy())
    cols = np.searchsorted(item_ids, positives[schema.ITEM_KEY].to_numpy())
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(user_ids), len(item_ids)))
    svd = TruncatedSVD(n_components=min(dim, len(item_ids) - 1), random_state=seed)
    user_vectors = svd.fit_transform(matrix).astype(np.float32)
    item_vectors = svd.components_.T.astype(np.float32)
    return {
        "user_ids": user_ids,
        "users": user_vectors,
        "item_ids": item_ids,
        "items": item_vectors,
    }


def exact_search(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the top ``k`` items by inner product (brute force)."""
    scores = queries @ items.T
    top = np.argpartition(-scores, min(k, items.shape[0] - 1), axis=1)[:, :k]
    order = np.take_along_axis(scores, top, axis=1).argsort(axis=1)[:, ::-1]
    return np.take_along_axis(top, order, axis=1)


def recall(approx: np.ndarray, exact: np.ndarray) -> float:
    """Return the share of exact neighbours that the approximate search found."""
    hits = sum(len(set(a) & set(e)) for a, e in zip(approx, exact, strict=True))
    return hits / exact.size


class AnnIndex:
    """Approximate inner-product search over item vectors; returns item positions."""

    def __init__(self, items: np.ndarray) -> None:
{%- if cookiecutter.vector_index == 'faiss' %}
        import faiss

        self.index = faiss.IndexHNSWFlat(items.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = 200
        self.index.hnsw.efSearch = 128
        self.index.add(np.ascontiguousarray(items, dtype=np.float32))
{%- else %}
        import hnswlib

        self.index = hnswlib.Index(space="ip", dim=items.shape[1])
        self.index.init_index(max_elements=len(items), ef_construction=200, M=32, random_seed=0)
        self.index.add_items(np.ascontiguousarray(items, dtype=np.float32), np.arange(len(items)))
        self.index.set_ef(128)
{%- endif %}

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
{%- if cookiecutter.vector_index == 'faiss' %}
        _, positions = self.index.search(queries, k)
{%- else %}
        positions, _ = self.index.knn_query(queries, k=k)
{%- endif %}
        return positions.astype(np.int64)

    def save(self, path) -> None:
{%- if cookiecutter.vector_index == 'faiss' %}
        import faiss

        faiss.write_index(self.index, str(path))
{%- else %}
        self.index.save_index(str(path))
{%- endif %}


class RetrievalIndex:
    """User embeddings plus the item index: ``candidates(user_id, k)`` returns item ids."""

    def __init__(self, embeddings: dict[str, np.ndarray], index: AnnIndex | None = None) -> None:
        self.embeddings = embeddings
        self.index = index or AnnIndex(embeddings["items"])
        self._user_pos = {int(u): k for k, u in enumerate(embeddings["user_ids"])}

    def candidates(self, user_id: int, k: int) -> list[int]:
        k = min(k, len(self.embeddings["item_ids"]))
        position = self._user_pos.get(int(user_id))
        if position is None:
            return [int(i) for i in self.embeddings["item_ids"][:k]]
        found = self.index.search(self.embeddings["users"][position], k)[0]
        return [int(self.embeddings["item_ids"][p]) for p in found if p >= 0]


def build_index(settings: Settings, frame: pd.DataFrame, k: int = 10) -> dict:
    """Build, check and save the index; return its size and recall@k against exact search."""
    embeddings = build_embeddings(frame, seed=settings.seed)
    index = AnnIndex(embeddings["items"])
    queries = embeddings["users"][: min(500, len(embeddings["users"]))]
    k = min(k, len(embeddings["item_ids"]))
    measured = recall(index.search(queries, k), exact_search(embeddings["items"], queries, k))
    folder = settings.directory("index")
    np.savez(folder / "embeddings.npz", **embeddings)
    index.save(folder / "items.index")
    return {"items": len(embeddings["item_ids"]), f"recall@{k}": measured}


def load_index(settings: Settings) -> RetrievalIndex:
    """Return the saved embeddings with a freshly built item index."""
    with np.load(settings.directory("index") / "embeddings.npz") as data:
        embeddings = {name: data[name] for name in data.files}
    return RetrievalIndex(embeddings)
