"""Shared fixtures: small settings under a temporary folder, data, features and a full loop."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.data.synthetic import generate
from {{ cookiecutter.package_name }}.features.store import (
    open_store,
)
from {{ cookiecutter.package_name }}.ingestion.batch import ingest
from {{ cookiecutter.package_name }}.pipelines.run import run_all
from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
    load_settings,
)

SMALL = {"n_users": 200, "n_items": 60, "n_events": 4000, "seed": 3}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ignore the developer's environment variables that start with ``ENV_PREFIX``."""
    import os

    for name in list(os.environ):
        if name.startswith(ENV_PREFIX):
            monkeypatch.delenv(name)


def small_settings(folder, **overrides) -> Settings:
    return load_settings(env="local", var_dir=folder / "var", **{**SMALL, **overrides})


@pytest.fixture
def settings(tmp_path) -> Settings:
    return small_settings(tmp_path)


@pytest.fixture
def ingested(settings: Settings) -> Settings:
    generate(settings)
    ingest(settings)
    return settings


@pytest.fixture
def materialized(ingested: Settings):
    store = open_store(ingested)
    store.materialize()
    return store


@pytest.fixture(scope="session")
def loop(tmp_path_factory) -> tuple[Settings, dict]:
    """Settings and report of one full run of the loop, shared by read-only tests."""
    settings = small_settings(tmp_path_factory.mktemp("loop"))
    return settings, run_all(settings)
