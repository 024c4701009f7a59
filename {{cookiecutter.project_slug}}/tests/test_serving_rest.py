from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema

{% if cookiecutter.experiment == 'shadow' -%}
from conftest import ADMIN_TOKEN, API_KEY, BlockingChallenger, with_challenger, with_tokens
{%- else -%}
from conftest import ADMIN_TOKEN, API_KEY, with_tokens
{%- endif %}

USER, ITEM = schema.USER_KEY, schema.ITEM_KEY
N_FEATURES = len(schema.feature_names())
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


def _client(settings):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx2")
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    return TestClient(create_app(settings))


@pytest.fixture(scope="module")
def client(loop):
    """The API as configs/local.yaml runs it: predictions open, admin calls need the token."""
    settings, _ = loop
    with _client(with_tokens(settings, auth_required=False)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def secured(loop):
    """The API as production runs it: every prediction call needs an API key."""
    settings, _ = loop
    with _client(with_tokens(settings)) as test_client:
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
        assert client.post("/model/reload", headers=ADMIN).json()["model_version"] == newer
        assert client.post("/predict", json={USER: 1, ITEM: 2}).json()["model_version"] == newer
    finally:
        registry.rollback()
        client.post("/model/reload", headers=ADMIN)
    assert client.get("/model").json()["model_version"] == before


@pytest.fixture(scope="module")
def rows(loop):
    """Held-back feature rows from the store and the champion's predictor."""
    from {{ cookiecutter.package_name }}.features.store import (
        open_store,
    )
    from {{ cookiecutter.package_name }}.registry.registry import (
        open_registry,
    )

    settings, _ = loop
    frame = open_store(settings).get_training_frame().tail(64)
    bundle, _ = open_registry(settings).load("champion")
    return frame, bundle["predictor"]


@pytest.fixture(scope="module")
def first_ids(loop, rows) -> dict[str, int]:
    """The ids a client sends for the first held-back row: the raw user id behind its key."""
    from {{ cookiecutter.package_name }}.data.synthetic import raw_user_ids

    settings, _ = loop
    first = rows[0].iloc[0]
    return {USER: raw_user_ids(settings, [int(first[USER])])[0], ITEM: int(first[ITEM])}


def test_features_in_the_request_match_the_predictor_and_the_store(client, rows, first_ids):
    frame, predictor = rows
    matrix = frame[schema.feature_names()].to_numpy()
    expected = predictor.predict(matrix)
    one = client.post("/predict", json={"features": matrix[0].tolist()})
    assert one.status_code == 200, one.text
    np.testing.assert_allclose(one.json()["prediction"], expected[0], rtol=1e-9)
    first = frame.iloc[0]
    context = {name: int(first[name]) for name in schema.CONTEXT_DEFAULTS}
    by_ids = client.post("/predict", json={**first_ids, "context": context})
    assert by_ids.status_code == 200, by_ids.text
    np.testing.assert_allclose(by_ids.json()["prediction"], expected[0], rtol=1e-9)
    batch = client.post("/predict/batch", json={"features": matrix.tolist()})
    assert batch.status_code == 200, batch.text
    np.testing.assert_allclose(batch.json()["predictions"], expected, rtol=1e-9)
    assert batch.json()["model_version"] == one.json()["model_version"]


def test_float64_batches_round_trip(client, rows):
    frame, predictor = rows
    matrix = frame[schema.feature_names()].to_numpy()
    response = client.post(
        "/predict/batch",
        content=matrix.astype("<f8").tobytes(),
        headers={"content-type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    expected = predictor.predict(matrix)
    answer = np.frombuffer(response.content, dtype="<f8").reshape(expected.shape)
    np.testing.assert_allclose(answer, expected, rtol=1e-12)
    assert int(response.headers["x-model-version"]) >= 1
    odd = client.post(
        "/predict/batch", content=b"\0" * 12, headers={"content-type": "application/octet-stream"}
    )
    assert odd.status_code == 422
    single = client.post(
        "/predict",
        content=b"\0" * 8 * N_FEATURES,
        headers={"content-type": "application/octet-stream"},
    )
    assert single.status_code == 415


BAD_FEATURES = [
    {"features": [1.0] * (N_FEATURES - 1)},
    {"features": [1.0] * (N_FEATURES + 1)},
    {"features": ["1.0"] * N_FEATURES},
    {"features": [True] * N_FEATURES},
    {"features": [None] * N_FEATURES},
    {"features": [[1.0] * N_FEATURES]},
    {"features": [1.0] * N_FEATURES, USER: 1},
    {"features": [2 * schema.FEATURE_LIMIT] + [1.0] * (N_FEATURES - 1)},
    {"features": [1.0] * (N_FEATURES - 1) + [-(10**13)]},
    {"features": {"a": 1.0}},
]


@pytest.mark.parametrize("payload", BAD_FEATURES)
def test_bad_features_are_422(client, payload):
    response = client.post("/predict", json=payload)
    assert response.status_code == 422, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"features": [NaN' + b", 1.0" * (N_FEATURES - 1) + b"]}",
        b'{"features": [1e999' + b", 1.0" * (N_FEATURES - 1) + b"]}",
        b'{"features": [[1e999' + b", 1.0" * (N_FEATURES - 1) + b"]]}",
        b'{"features": [[1.0], [1.0, 2.0]]}',
        b'{"features": []}',
        b"\xff\xfe",
        b'{"features": "\xc3\x28"}',
        b"[" * 100_000,
    ],
)
def test_non_finite_ragged_or_undecodable_bodies_are_422(client, body):
    path = "/predict/batch" if b"[[" in body or b"[]" in body else "/predict"
    response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


def test_too_many_rows_and_other_content_types_are_refused(client, loop):
    settings, _ = loop
    rows = [[0.5] * N_FEATURES] * (settings.max_batch_size + 1)
    assert client.post("/predict/batch", json={"features": rows}).status_code == 422
    instances = [{USER: 1, ITEM: 2}] * (settings.max_batch_size + 1)
    assert client.post("/predict/batch", json={"instances": instances}).status_code == 422
    binary = {"content-type": "application/octet-stream"}
    packed = np.zeros((settings.max_batch_size + 1, N_FEATURES)).tobytes()
    assert client.post("/predict/batch", content=packed, headers=binary).status_code == 413
    text = client.post("/predict", content=b"hello", headers={"content-type": "text/plain"})
    assert text.status_code == 415


def test_hand_validation_agrees_with_the_documented_models():
    from types import SimpleNamespace

    from pydantic import TypeAdapter, ValidationError

    from {{ cookiecutter.package_name }}.serving.app import (
        FeaturesRequest,
        HTTPError,
        PredictionAPI,
        PredictRequest,
    )

    documented = TypeAdapter(FeaturesRequest | PredictRequest)
    payloads = [
        {USER: 1, ITEM: 2},
        {USER: 1, ITEM: 2, "context": {"hour_of_day": 23, "is_weekend": 1}},
        {USER: 1, ITEM: 2, "context": {"hour_of_day": 24}},
        {USER: 1, ITEM: 2, "context": {"other": 1}},
        {USER: 1.5, ITEM: 2},
        {USER: True, ITEM: 2},
        {USER: 0, ITEM: 2**63},
        {USER: 1.0, ITEM: 2.0, "context": {"hour_of_day": 9.0}},
        {USER: 1e30, ITEM: 2},
        {"features": [0.5] * N_FEATURES},
        {"features": [1] * N_FEATURES},
        *BAD_FEATURES,
    ]

    class Core:
        def predict(self, users, items, context):
            return [{"prediction": 0.5, "model_version": 1, "variant": "control"}] * len(users)

        def predict_row(self, row):
            return {"prediction": 0.5, "model_version": 1, "variant": "control"}

    limits = SimpleNamespace(max_body_bytes=1 << 20, max_batch_size=10)
    api = PredictionAPI(Core(), limits, docs_app=None)
    for payload in payloads:
        try:
            documented.validate_python(payload)
            valid = True
        except ValidationError:
            valid = False
        try:
            api.predict(payload, batch=False)
            accepted = True
        except HTTPError:
            accepted = False
        assert valid == accepted, payload


def test_openapi_documents_both_request_forms(client):
    document = client.get("/openapi.json").json()
    body = document["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    names = {ref["$ref"].rsplit("/", 1)[1] for ref in body["schema"]["anyOf"]}
    assert names == {"FeaturesRequest", "PredictRequest"}
    assert {"FeaturesRequest", "PredictRequest", "Context"} <= set(
        document["components"]["schemas"]
    )
    assert client.get("/docs").status_code == 200


def test_the_fastapi_routes_answer_like_the_front_door(client, rows):
    from fastapi.testclient import TestClient

    frame, _ = rows
    payload = {"features": frame[schema.feature_names()].to_numpy()[0].tolist()}
    with TestClient(client.app.fastapi) as inner:
        assert (
            inner.post("/predict", json=payload).json()
            == client.post("/predict", json=payload).json()
        )
        assert inner.post("/predict", json={USER: -1, ITEM: 2}).status_code == 422


def test_a_promoted_model_is_swapped_in_under_load_without_a_failed_request(loop, rows, first_ids):
    """A real uvicorn on 127.0.0.1, 4 keep-alive clients for ~2 s, a promotion half-way."""
    import http.client
    import json
    import socket
    import threading
    import time

    uvicorn = pytest.importorskip("uvicorn")
    from {{ cookiecutter.package_name }}.registry.registry import (
        open_registry,
    )
    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    settings, _ = loop
    settings = settings.model_copy(update={"reload_interval_s": 0.05})
    registry = open_registry(settings)
    bundle, _ = registry.load("champion")
    before = registry.alias("champion")
    frame, _ = rows
    bodies = [
        json.dumps({"features": frame[schema.feature_names()].to_numpy()[0].tolist()}),
        json.dumps(first_ids),
    ]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, access_log=False, log_level="warning"
    )
    server = uvicorn.Server(config)
    serving = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    serving.start()
    started = time.monotonic()
    while not server.started and time.monotonic() - started < 30:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"

    JSON = {"content-type": "application/json"}
    seen: dict[tuple[int, int], list[int]] = {(k, kind): [] for k in range(4) for kind in (0, 1)}
    failures: list[str] = []
    stop = threading.Event()

    def client_loop(k: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n = 0
        while not stop.is_set():
            try:
                connection.request("POST", "/predict", body=bodies[n % 2], headers=JSON)
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    failures.append(f"HTTP {response.status}: {payload[:200]!r}")
                else:
                    seen[k, n % 2].append(json.loads(payload)["model_version"])
            except (OSError, http.client.HTTPException) as error:
                failures.append(repr(error))
            n += 1
        connection.close()

    clients = [threading.Thread(target=client_loop, args=(k,)) for k in range(4)]
    for thread in clients:
        thread.start()
    try:
        time.sleep(0.5)
        newer = registry.register(bundle)
        registry.promote(newer)
        promoted = time.monotonic()
        while time.monotonic() - promoted < 1.5 and time.monotonic() - started < 8:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in clients:
            thread.join(timeout=10)
        server.should_exit = True
        serving.join(timeout=10)
        registry.promote(before)
    assert not failures, failures[:5]
    for versions in seen.values():  # per client and request kind (an A/B challenger is newer)
        assert versions and versions[0] == before and versions[-1] == newer, versions[:3]
        switched = versions.index(newer)
        assert set(versions[switched:]) == {newer}, "an old model answered after the swap"
    assert sum(map(len, seen.values())) > 100


def test_integral_json_numbers_are_accepted_as_integers(client):
    as_ints = client.post("/predict", json={USER: 1, ITEM: 2, "context": {"hour_of_day": 9}})
    as_floats = client.post(
        "/predict", json={USER: 1.0, ITEM: 2.0, "context": {"hour_of_day": 9.0, "is_weekend": 0.0}}
    )
    assert as_floats.status_code == 200, as_floats.text
    assert as_floats.json() == as_ints.json()
    assert client.post("/predict", json={USER: 1.5, ITEM: 2}).status_code == 422
    batch = client.post("/predict/batch", json={"instances": [{USER: 3.0, ITEM: 4.0}]})
    assert batch.status_code == 200, batch.text


def test_booleans_among_batch_features_are_422(client):
    row = [0.5] * N_FEATURES
    assert client.post("/predict/batch", json={"features": [row, row]}).status_code == 200
    for bad in (True, False):
        payload = {"features": [row, [bad, *row[1:]]]}
        assert client.post("/predict/batch", json=payload).status_code == 422


REFUSED_HEADERS = [
    {},
    {"x-api-key": "wrong-key-0123456789"},
    {"authorization": f"Basic {API_KEY}"},
]
CALLS = [
    ("post", "/predict", {"json": {USER: 1, ITEM: 2}}),
    ("post", "/predict/batch", {"json": {"features": [[0.5] * N_FEATURES]}}),
    ("get", "/model", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_predictions_need_an_api_key_when_auth_is_required(secured, method, path, body):
    call = getattr(secured, method)
    for headers in REFUSED_HEADERS:
        refused = call(path, headers=headers, **body)
        assert refused.status_code == 401, (headers, refused.text)
        assert refused.headers["www-authenticate"].startswith("Bearer ")
        assert "token" in refused.json()["detail"] or "key" in refused.json()["detail"]
    for headers in ({"authorization": f"Bearer {API_KEY}"}, {"x-api-key": API_KEY}, ADMIN):
        assert call(path, headers=headers, **body).status_code == 200, headers


def test_float64_batches_need_an_api_key_too(secured):
    body = np.full((2, N_FEATURES), 0.5).astype("<f8").tobytes()
    binary = {"content-type": "application/octet-stream"}
    assert secured.post("/predict/batch", content=body, headers=binary).status_code == 401
    answer = secured.post("/predict/batch", content=body, headers={**binary, "x-api-key": API_KEY})
    assert answer.status_code == 200 and len(answer.content) >= 16


def test_health_and_readiness_stay_open(secured):
    assert secured.get("/health").status_code == 200
    assert secured.get("/ready").status_code == 200


@pytest.mark.parametrize("fixture", ["client", "secured"])
def test_reload_needs_the_admin_token_even_locally(request, fixture):
    api = request.getfixturevalue(fixture)
    missing = api.post("/model/reload")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    wrong = api.post("/model/reload", headers={"x-api-key": "not-the-admin-token-0"})
    assert wrong.status_code == 401
    with_key = api.post("/model/reload", headers={"authorization": f"Bearer {API_KEY}"})
    assert with_key.status_code == 403, with_key.text
    assert "admin token" in with_key.json()["detail"]
    assert api.post("/model/reload", headers=ADMIN).json()["model_version"] >= 1


def test_admin_calls_are_refused_when_no_admin_token_is_set(loop):
    from pydantic import SecretStr

    settings, _ = loop
    with _client(with_tokens(settings, admin_token=SecretStr(""))) as api:
        refused = api.post("/model/reload", headers=ADMIN)
        assert refused.status_code == 401
        assert "ADMIN_TOKEN" in refused.json()["detail"]
        keyed = api.post("/predict", json={USER: 1, ITEM: 2}, headers={"x-api-key": API_KEY})
        assert keyed.status_code == 200


def test_local_config_opens_predictions_and_production_closes_them():
    from {{ cookiecutter.package_name }}.settings import (
        load_settings,
    )

    assert load_settings(env="local").auth_required is False
    assert load_settings(env="production").auth_required is True
    assert load_settings(env="production").cors_origins == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"api_keys": ""}, "API_KEYS"),
        ({"api_keys": "short"}, "shorter than"),  # pragma: allowlist secret
        ({"admin_token": API_KEY}, "admin_token is also in api_keys"),
    ],
)
def test_the_api_refuses_to_start_with_missing_or_weak_tokens(loop, overrides, message):
    from pydantic import SecretStr

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )

    settings, _ = loop
    broken = with_tokens(settings, **{key: SecretStr(value) for key, value in overrides.items()})
    with pytest.raises(ValueError, match=message):
        create_app(broken)


PREFLIGHT = {"origin": "https://app.example.com", "access-control-request-method": "POST"}


def test_cors_is_closed_by_default(client):
    preflight = client.options("/predict", headers=PREFLIGHT)
    assert preflight.status_code >= 400
    assert "access-control-allow-origin" not in preflight.headers
    origin = {"origin": PREFLIGHT["origin"]}
    answer = client.post("/predict", json={USER: 1, ITEM: 2}, headers=origin)
    assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers


def test_cors_origins_open_the_api_to_those_origins_only(loop):
    settings, _ = loop
    with _client(with_tokens(settings, cors_origins=[PREFLIGHT["origin"]])) as api:
        allowed = api.options(
            "/predict", headers={**PREFLIGHT, "access-control-request-headers": "x-api-key"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == PREFLIGHT["origin"]
        other = api.options("/predict", headers={**PREFLIGHT, "origin": "https://evil.example"})
        assert other.status_code == 400 and "access-control-allow-origin" not in other.headers
        answer = api.post(
            "/predict",
            json={USER: 1, ITEM: 2},
            headers={"origin": PREFLIGHT["origin"], "x-api-key": API_KEY},
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == PREFLIGHT["origin"]


def test_openapi_states_security_statuses_limits_and_media_types(client, secured, loop):
    settings, _ = loop
    document = secured.get("/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["type"] == "http" and schemes["bearer"]["scheme"] == "bearer"
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "x-api-key"
    predict = document["paths"]["/predict"]["post"]
    assert {"bearer", "apiKey"} == {name for entry in predict["security"] for name in entry}
    assert {"200", "401", "404", "413", "415", "422", "503"} <= set(predict["responses"])
    assert "WWW-Authenticate" in predict["responses"]["401"]["headers"]
    batch = document["paths"]["/predict/batch"]["post"]
    assert "application/octet-stream" in batch["requestBody"]["content"]
    assert "application/octet-stream" in batch["responses"]["200"]["content"]
    reload = document["paths"]["/model/reload"]["post"]
    assert {"200", "401", "403", "409"} <= set(reload["responses"]) and reload["security"]
    components = document["components"]["schemas"]
    rows = components["FeaturesBatchRequest"]["properties"]["features"]
    assert rows["maxItems"] == settings.max_batch_size and rows["minItems"] == 1
    assert rows["items"]["minItems"] == rows["items"]["maxItems"] == N_FEATURES
    instances = components["BatchRequest"]["properties"]["instances"]
    assert instances["maxItems"] == settings.max_batch_size
    assert components["PredictRequest"]["properties"][USER]["type"] == "integer"
    number = components["FeaturesRequest"]["properties"]["features"]["items"]
    assert number["maximum"] == -number["minimum"] == schema.FEATURE_LIMIT
{%- if cookiecutter.monitoring %}
    metrics = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == [secured.get("/metrics").headers["content-type"]]
    assert list(metrics)[0].startswith("text/plain")
{%- endif %}
    open_predict = client.get("/openapi.json").json()["paths"]["/predict"]["post"]
    assert "security" not in open_predict and "401" not in open_predict["responses"]
{%- if cookiecutter.experiment == 'shadow' %}


@pytest.fixture
def shadow_client(loop):
    """A REST app whose core has a 2-request shadow queue and no registry polling."""
    pytest.importorskip("httpx2")
    from fastapi.testclient import TestClient

    from {{ cookiecutter.package_name }}.serving.app import (
        create_app,
    )
    from {{ cookiecutter.package_name }}.serving.core import (
        PredictionService,
    )

    settings, _ = loop
    settings = settings.model_copy(update={"reload_interval_s": 0.0, "shadow_queue_size": 2})
    service = PredictionService(settings)
    with TestClient(create_app(settings, service)) as test_client:
        yield test_client, service


def _shadow_requests(rows, first_ids) -> list[tuple[str, dict]]:
    frame, _ = rows
    features = frame[schema.feature_names()].to_numpy()
    return [
        ("/predict", first_ids),
        ("/predict", {"features": features[1].tolist()}),
        ("/predict/batch", {"features": features[2:5].tolist()}),
        ("/predict/batch", {"instances": [first_ids]}),
    ]


def _metric(client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def test_shadow_answers_are_the_champions_while_the_challenger_is_still_blocked(
    shadow_client, rows, first_ids
):
    client, service = shadow_client
    requests = _shadow_requests(rows, first_ids)
    alone = [client.post(path, json=body).json() for path, body in requests]
    logged_before = len(service.shadow.log.read())
{%- if cookiecutter.monitoring %}
    dropped_before = _metric(client, "shadow_dropped_rows_total")
{%- endif %}
    slow = BlockingChallenger()
    with_challenger(service, slow)
    try:
        first = client.post(requests[0][0], json=requests[0][1])
        assert first.status_code == 200 and first.json() == alone[0]
        assert slow.started.wait(timeout=30), "the shadow model never got the request"
        assert not slow.release.is_set() and service.shadow.pending == 1  # answered, still blocked
        answers = [client.post(path, json=body) for path, body in requests[1:]]
        # the worker holds request 1, the queue (size 2) requests 2 and 3; request 4 is dropped
        assert [a.json() for a in answers] == alone[1:]
        assert service.shadow.pending == 3 and service.shadow.dropped_rows == 1
{%- if cookiecutter.monitoring %}
        assert _metric(client, "shadow_dropped_rows_total") == dropped_before + 1
{%- endif %}
        for answer in (first, *answers):
            body = answer.json()
            assert not any("shadow" in key for key in body)
            for row in body.get("predictions", []):
                assert not isinstance(row, dict) or set(row) == set(alone[0])
    finally:
        slow.release.set()
    assert service.shadow.drain(timeout_s=60)
    logged = service.shadow.log.read().iloc[logged_before:]
    assert len(logged) == 1 + 1 + 3  # requests 1-3; request 4 (one row) was dropped
    assert logged[USER].iloc[0] == rows[0].iloc[0][USER]  # the stored key, not the raw id sent
    assert set(logged["shadow_version"]) == {service.champion.version + 1000}
    assert np.allclose(np.vstack(logged["shadow"].map(np.ravel)), 0.123)
    champion_outputs = [alone[0]["prediction"], alone[1]["prediction"], *alone[2]["predictions"]]
    assert np.allclose(
        np.vstack(logged["champion"].map(np.ravel)),
        np.reshape(champion_outputs, (len(logged), -1)),
    )


def test_a_failing_challenger_changes_no_answer_and_is_counted(shadow_client, rows, first_ids):
    client, service = shadow_client
    requests = _shadow_requests(rows, first_ids)
    alone = [client.post(path, json=body).json() for path, body in requests]
    logged_before = len(service.shadow.log.read())
{%- if cookiecutter.monitoring %}
    errors_before = _metric(client, "shadow_errors_total")
{%- endif %}
    broken = BlockingChallenger(fail=True)
    broken.release.set()
    with_challenger(service, broken)
    for (path, body), expected in zip(requests, alone, strict=True):
        answer = client.post(path, json=body)
        assert answer.status_code == 200 and answer.json() == expected
        assert service.shadow.drain(timeout_s=60)  # one at a time: none is dropped
    assert broken.calls == len(requests) and service.shadow.errors == len(requests)
    assert len(service.shadow.log.read()) == logged_before
{%- if cookiecutter.monitoring %}
    assert _metric(client, "shadow_errors_total") == errors_before + len(requests)
{%- endif %}


def test_the_openapi_answer_models_carry_no_shadow_fields(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["Prediction"]["properties"]) == {"prediction", "model_version", "variant"}
    assert set(schemas["FeaturesBatchPrediction"]["properties"]) == {
        "predictions",
        "model_version",
        "variant",
    }
{%- endif %}
