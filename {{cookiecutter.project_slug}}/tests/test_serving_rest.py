from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }} import schema

USER, ITEM = schema.USER_KEY, schema.ITEM_KEY


@pytest.fixture(scope="module")
def client(loop):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx2")
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    settings, _ = loop
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_health_ready_and_model(client):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert client.get("/model").json()["model_version"] == ready.json()["model_version"]


def test_predict_one_and_a_batch(client):
    one = client.post("/predict", json={USER: 1, ITEM: 2, "context": {"hour_of_day": 9}})
    assert one.status_code == 200, one.text
    body = one.json()
    assert set(body) == {"prediction", "model_version", "variant"}
    batch = client.post(
        "/predict/batch", json={"instances": [{USER: 1, ITEM: 2}, {USER: 3, ITEM: 4}]}
    )
    assert batch.status_code == 200
    assert len(batch.json()["predictions"]) == 2


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {USER: 1},
        {USER: -1, ITEM: 2},
        {USER: "one", ITEM: 2},
        {USER: 1, ITEM: 2, "unexpected": 1},
        {USER: 1, ITEM: 2, "context": {"hour_of_day": 25}},
        {USER: 1, ITEM: 2, "context": {"is_weekend": "maybe"}},
        {USER: 2**70, ITEM: 2},
        [1, 2, 3],
        "text",
    ],
)
def test_bad_input_is_422_never_500(client, payload):
    response = client.post("/predict", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


def test_malformed_json_and_empty_batch_are_422(client):
    response = client.post(
        "/predict", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert client.post("/predict/batch", json={"instances": []}).status_code == 422


def test_unknown_entity_is_404(client):
    response = client.post("/predict", json={USER: 10**12, ITEM: 2})
    assert response.status_code == 404
    assert USER in response.json()["detail"]


def test_body_over_the_limit_is_413(client, loop):
    settings, _ = loop
    response = client.post(
        "/predict",
        content=b" " * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413


def test_reload_swaps_to_the_promoted_model(client, loop):
    from {{ cookiecutter.package_name }}.registry.registry import (
        open_registry,
    )

    settings, _ = loop
    registry = open_registry(settings)
    bundle, _ = registry.load("champion")
    before = client.get("/model").json()["model_version"]
    newer = registry.register(bundle)
    registry.promote(newer)
    try:
        assert client.post("/model/reload").json()["model_version"] == newer
        assert client.post("/predict", json={USER: 1, ITEM: 2}).json()["model_version"] == newer
    finally:
        registry.rollback()
        client.post("/model/reload")
    assert client.get("/model").json()["model_version"] == before
