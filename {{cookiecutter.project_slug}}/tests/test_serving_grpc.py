from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema

{% if cookiecutter.experiment == 'shadow' -%}
from conftest import ADMIN_TOKEN, API_KEY, BlockingChallenger, with_challenger, with_tokens
{%- else -%}
from conftest import ADMIN_TOKEN, API_KEY, with_tokens
{%- endif %}

N_FEATURES = len(schema.feature_names())


@pytest.fixture(scope="module")
def channel(loop):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    settings, _ = loop
    server, port = grpc_server.create_server(with_tokens(settings, auth_required=False), port=0)
    channel = grpc.insecure_channel(f"{settings.serve_host}:{port}")
    yield channel
    channel.close()
    server.stop(grace=None)


@pytest.fixture(scope="module")
def secured(loop):
    """A server as production runs it: every call needs an API key; its channel and messages."""
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    settings, _ = loop
    server, port = grpc_server.create_server(with_tokens(settings), port=0)
    channel = grpc.insecure_channel(f"{settings.serve_host}:{port}")
    messages, services = grpc_server.load_protos(settings)
    yield grpc, messages, services, channel
    channel.close()
    server.stop(grace=None)


@pytest.fixture(scope="module")
def stub(channel, loop):
    import grpc

    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    messages, services = grpc_server.load_protos(loop[0])
    return grpc, messages, services.PredictorStub(channel)


def _request(messages, user: int, item: int, **context):
    return messages.PredictRequest(**{schema.USER_KEY: user, schema.ITEM_KEY: item}, **context)


def test_predict_and_batch(stub):
    _, messages, client = stub
    reply = client.Predict(_request(messages, 1, 2, hour_of_day=9), timeout=5)
    assert reply.model_version >= 1 and len(reply.scores) >= 1
    batch = client.PredictBatch(
        messages.PredictBatchRequest(
            instances=[_request(messages, 1, 2), _request(messages, 3, 4)]
        ),
        timeout=5,
    )
    assert len(batch.predictions) == 2


@pytest.mark.parametrize(
    ("user", "item", "context", "code"),
    [
        (-1, 2, {}, "INVALID_ARGUMENT"),
        (1, 2, {"hour_of_day": 30}, "INVALID_ARGUMENT"),
        (10**12, 2, {}, "NOT_FOUND"),
    ],
)
def test_bad_requests_get_a_clear_status(stub, user, item, context, code):
    grpc, messages, client = stub
    with pytest.raises(grpc.RpcError) as error:
        client.Predict(_request(messages, user, item, **context), timeout=5)
    assert error.value.code() == getattr(grpc.StatusCode, code)


def test_empty_batch_is_invalid(stub):
    grpc, messages, client = stub
    with pytest.raises(grpc.RpcError) as error:
        client.PredictBatch(messages.PredictBatchRequest(), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_features_and_packed_batches_match_the_predictor(stub, loop):
    _, messages, client = stub
    from {{ cookiecutter.package_name }}.features.store import (
        open_store,
    )
    from {{ cookiecutter.package_name }}.registry.registry import (
        open_registry,
    )

    settings, _ = loop
    matrix = open_store(settings).get_training_frame()[schema.feature_names()].to_numpy()[-32:]
    bundle, _ = open_registry(settings).load("champion")
    expected = np.reshape(bundle["predictor"].predict(matrix), (len(matrix), -1))
    one = client.Predict(messages.PredictRequest(features=matrix[0].tolist()), timeout=5)
    np.testing.assert_allclose(list(one.scores), expected[0], rtol=1e-9)
    batch = client.PredictBatch(
        messages.PredictBatchRequest(features=matrix.ravel().tolist()), timeout=5
    )
    assert batch.outputs_per_row == expected.shape[1] and batch.model_version >= 1
    scores = np.reshape(list(batch.scores), (len(matrix), batch.outputs_per_row))
    np.testing.assert_allclose(scores, expected, rtol=1e-9)


@pytest.mark.parametrize(
    "request_fields",
    [
        {"features": [1.0] * (N_FEATURES - 1)},
        {"features": [float("nan")] * N_FEATURES},
        {"features": [float("inf")] * N_FEATURES},
        {"features": [2 * schema.FEATURE_LIMIT] * N_FEATURES},
    ],
)
def test_bad_features_are_invalid_argument(stub, request_fields):
    grpc, messages, client = stub
    with pytest.raises(grpc.RpcError) as error:
        client.Predict(messages.PredictRequest(**request_fields), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as error:
        client.PredictBatch(messages.PredictBatchRequest(**request_fields), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def wire(loop):
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    messages, _ = grpc_server.load_protos(loop[0])
    return grpc_server, messages


@pytest.mark.parametrize("rows", [1, 256, 1000])
def test_packed_features_are_read_in_place_exactly(wire, rows):
    grpc_server, messages = wire
    values = np.random.default_rng(rows).normal(size=rows * N_FEATURES)
    body = messages.PredictBatchRequest(features=values.tolist()).SerializeToString()
    np.testing.assert_array_equal(grpc_server.packed_features(body), values)


def test_other_batch_messages_are_left_to_protobuf(wire):
    grpc_server, messages = wire
    values = [0.5] * N_FEATURES
    instance = messages.PredictRequest(**{schema.USER_KEY: 1, schema.ITEM_KEY: 2})
    packed = messages.PredictBatchRequest(features=values).SerializeToString()
    unpacked = b"".join(b"\x11" + np.float64(v).tobytes() for v in values)  # field 2, one by one
    assert list(messages.PredictBatchRequest.FromString(unpacked).features) == values
    for body in (
        b"",
        messages.PredictBatchRequest(instances=[instance]).SerializeToString(),
        messages.PredictBatchRequest(instances=[instance], features=values).SerializeToString(),
        unpacked,
        packed + b"\x18\x01",  # another field after the features
        packed[:-1],  # the length says more than the body holds
        b"\x12\x03abc",  # a length that is not a whole number of doubles
        b"\x12" + b"\xff" * 11,  # an endless varint
    ):
        assert grpc_server.packed_features(body) is None


@pytest.mark.parametrize(
    ("outputs", "version", "variant"), [(1, 1, "control"), (3, 300, "treatment")]
)
def test_packed_answer_is_the_message_protobuf_writes(wire, outputs, version, variant):
    grpc_server, messages = wire
    scores = np.random.default_rng(version).random(256 * outputs)
    body = grpc_server.packed_answer(scores, outputs, version, variant)
    expected = messages.PredictBatchResponse(
        scores=scores.tolist(), outputs_per_row=outputs, model_version=version, variant=variant
    )
    assert messages.PredictBatchResponse.FromString(body) == expected


def test_unpacked_and_malformed_batches_over_the_wire(stub, channel, loop):
    grpc, messages, client = stub
    settings, _ = loop
    matrix = np.random.default_rng(3).normal(size=(4, N_FEATURES))
    packed = client.PredictBatch(
        messages.PredictBatchRequest(features=matrix.ravel().tolist()), timeout=5
    )
    raw = channel.unary_unary(f"/{messages.DESCRIPTOR.package}.Predictor/PredictBatch")
    unpacked = b"".join(b"\x11" + v.tobytes() for v in matrix.ravel().astype("<f8"))
    assert messages.PredictBatchResponse.FromString(raw(unpacked, timeout=5)) == packed
    for body in (b"\xff\xff\xff", b"\x12\x05abc"):
        with pytest.raises(grpc.RpcError) as error:
            raw(body, timeout=5)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    too_many = np.zeros((settings.max_batch_size + 1) * N_FEATURES).tolist()
    with pytest.raises(grpc.RpcError) as error:
        client.PredictBatch(messages.PredictBatchRequest(features=too_many), timeout=5)
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_a_message_over_the_body_limit_is_resource_exhausted(stub, loop):
    grpc, messages, client = stub
    settings, _ = loop
    values = [0.5] * (settings.max_body_bytes // 8 + N_FEATURES)  # just over the limit
    values = values[: len(values) // N_FEATURES * N_FEATURES]
    with pytest.raises(grpc.RpcError) as error:
        client.PredictBatch(messages.PredictBatchRequest(features=values), timeout=10)
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    reply = client.Predict(messages.PredictRequest(features=[0.5] * N_FEATURES), timeout=5)
    assert len(reply.scores) >= 1  # the server still answers


REFUSED_METADATA = [
    (),
    (("x-api-key", "wrong-key-0123456789"),),
    (("authorization", f"Basic {API_KEY}"),),
]
GOOD = [
    (("authorization", f"Bearer {API_KEY}"),),
    (("x-api-key", API_KEY),),
    (("authorization", f"Bearer {ADMIN_TOKEN}"),),
]


def test_predictions_need_an_api_key_when_auth_is_required(secured):
    grpc, messages, services, channel = secured
    client = services.PredictorStub(channel)
    one = messages.PredictRequest(features=[0.5] * N_FEATURES)
    batch = messages.PredictBatchRequest(features=[0.5] * N_FEATURES * 2)
    for metadata in REFUSED_METADATA:
        for call, request in ((client.Predict, one), (client.PredictBatch, batch)):
            with pytest.raises(grpc.RpcError) as error:
                call(request, metadata=metadata, timeout=5)
            assert error.value.code() == grpc.StatusCode.UNAUTHENTICATED, metadata
    for metadata in GOOD:
        assert len(client.Predict(one, metadata=metadata, timeout=5).scores) >= 1
        assert client.PredictBatch(batch, metadata=metadata, timeout=5).model_version >= 1


@pytest.mark.parametrize("auth_required", [False, True])
def test_reload_needs_the_admin_token_even_locally(secured, channel, loop, auth_required):
    grpc, messages, services, secured_channel = secured
    admin = services.AdminStub(secured_channel if auth_required else channel)
    for metadata, code in [
        *((metadata, grpc.StatusCode.UNAUTHENTICATED) for metadata in REFUSED_METADATA),
        ((("x-api-key", API_KEY),), grpc.StatusCode.PERMISSION_DENIED),
        ((("authorization", f"Bearer {API_KEY}"),), grpc.StatusCode.PERMISSION_DENIED),
    ]:
        with pytest.raises(grpc.RpcError) as error:
            admin.Reload(messages.ReloadRequest(), metadata=metadata, timeout=5)
        assert error.value.code() == code, metadata
    reloaded = admin.Reload(
        messages.ReloadRequest(), metadata=(("x-api-key", ADMIN_TOKEN),), timeout=10
    )
    assert reloaded.model_version >= 1


def test_the_server_refuses_to_start_without_an_api_key(loop):
    pytest.importorskip("grpc")
    from pydantic import SecretStr

    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    settings, _ = loop
    with pytest.raises(ValueError, match="API_KEYS"):
        grpc_server.create_server(with_tokens(settings, api_keys=SecretStr("")), port=0)
{%- if cookiecutter.experiment == 'shadow' %}


def test_grpc_answers_only_with_the_champion_whether_the_shadow_model_blocks_or_fails(stub, loop):
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )
    from {{ cookiecutter.package_name }}.serving.core import (
        PredictionService,
    )

    grpc, messages, _ = stub
    settings, _ = loop
    service = PredictionService(settings.model_copy(update={"reload_interval_s": 0.0}))
    server, port = grpc_server.create_server(service.settings, service=service, port=0)
    channel = grpc.insecure_channel(f"{settings.serve_host}:{port}")
    _, services = grpc_server.load_protos(settings)
    client = services.PredictorStub(channel)
    slow = BlockingChallenger()
    try:
        alone = client.Predict(_request(messages, 1, 2), timeout=10)
        with_challenger(service, slow)
        reply = client.Predict(_request(messages, 1, 2), timeout=10)
        assert slow.started.wait(timeout=30), "the shadow model never got the request"
        assert not slow.release.is_set() and service.shadow.pending == 1  # answered, still blocked
        assert reply == alone
        fields = {field.name for field, _ in reply.ListFields()}
        assert fields <= {"scores", "model_version", "variant"}
        assert reply.model_version == service.champion.version
        slow.release.set()
        assert service.shadow.drain(timeout_s=60) and service.shadow.scored_rows == 1
        broken = BlockingChallenger(fail=True)
        broken.release.set()
        with_challenger(service, broken)
        assert client.Predict(_request(messages, 1, 2), timeout=10) == alone
        assert service.shadow.drain(timeout_s=60) and service.shadow.errors == 1
    finally:
        slow.release.set()
        channel.close()
        server.stop(grace=None)
{%- endif %}


def _health(channel, service: str = ""):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    request = health_pb2.HealthCheckRequest(service=service)
    return health_pb2_grpc.HealthStub(channel).Check(request, timeout=10).status


def test_grpc_health_checks_need_no_api_key_and_report_the_loaded_model(secured):
    grpc, messages, _, channel = secured
    from grpc_health.v1 import health_pb2

    predictor = messages.DESCRIPTOR.services_by_name["Predictor"].full_name
    assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
    assert _health(channel, predictor) == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as unknown:
        _health(channel, "no.such.Service")
    assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def test_grpc_health_reports_not_serving_until_a_champion_is_loaded(loop, tmp_path):
    grpc = pytest.importorskip("grpc")
    from grpc_health.v1 import health_pb2

    from {{ cookiecutter.package_name }}.serving import grpc_server

    settings, _ = loop
    empty = with_tokens(settings, auth_required=False).model_copy(update={"var_dir": tmp_path})
    server, port = grpc_server.create_server(empty, port=0)
    channel = grpc.insecure_channel(f"{settings.serve_host}:{port}")
    try:
        messages, _ = grpc_server.load_protos(settings)
        predictor = messages.DESCRIPTOR.services_by_name["Predictor"].full_name
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
        assert _health(channel, predictor) == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        channel.close()
        server.stop(grace=None)
