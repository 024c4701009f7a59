from __future__ import annotations

import numpy as np
import pytest

from {{ cookiecutter.package_name }} import schema

N_FEATURES = len(schema.feature_names())


@pytest.fixture(scope="module")
def stub(loop):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("grpc_tools")
    from {{ cookiecutter.package_name }}.serving import (
        grpc_server,
    )

    settings, _ = loop
    server, port = grpc_server.create_server(settings, port=0)
    messages, services = grpc_server.load_protos(settings)
    channel = grpc.insecure_channel(f"{settings.serve_host}:{port}")
    yield grpc, messages, services.PredictorStub(channel)
    channel.close()
    server.stop(grace=None)


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
