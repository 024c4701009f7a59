from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }} import schema


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
