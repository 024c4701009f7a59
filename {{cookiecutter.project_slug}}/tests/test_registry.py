from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.registry.registry import (
    IntegrityError,
    LocalRegistry,
    RegistryError,
    open_registry,
)


def _bundle(tag: str) -> dict:
    return {"tag": tag, "metrics": {"beats_baseline": True}, "schema_hash": "x", "trainer": "test"}


def test_rollback_restores_previous_version(settings):
    registry = open_registry(settings)
    first = registry.register(_bundle("first"))
    registry.promote(first)
    second = registry.register(_bundle("second"))
    assert registry.alias("challenger") == second
    registry.promote()
    assert registry.load("champion")[0]["tag"] == "second"
    assert registry.rollback() == first
    bundle, info = registry.load("champion")
    assert bundle["tag"] == "first" and info["version"] == first
    with pytest.raises(RegistryError):
        registry.rollback()


def test_artifact_with_a_wrong_checksum_is_refused(settings):
    registry = LocalRegistry(settings)
    version = registry.register(_bundle("good"))
    registry.promote(version)
    artifact = registry.root / f"v{version}" / "model.pkl"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with pytest.raises(IntegrityError):
        registry.load("champion")


def test_promote_without_a_model_is_a_clear_error(settings):
    with pytest.raises(RegistryError, match="nothing to promote"):
        open_registry(settings).promote()
    with pytest.raises(RegistryError):
        open_registry(settings).load("champion")
{%- if cookiecutter.registry == 'mlflow' %}


def test_mlflow_backend_promotes_rolls_back_and_checks_sha(settings):
    pytest.importorskip("mlflow")
    from {{ cookiecutter.package_name }}.registry import (
        mlflow_backend,
    )

    registry = mlflow_backend.MlflowRegistry(settings)
    first = registry.register(_bundle("first"))
    registry.promote(first)
    registry.register(_bundle("second"))
    registry.promote()
    assert registry.load("champion")[0]["tag"] == "second"
    assert registry.rollback() == first
    assert registry.load("champion")[0]["tag"] == "first"
{%- endif %}
