from __future__ import annotations

import pytest
from pydantic import SecretStr

from {{ cookiecutter.package_name }}.serving import auth

from conftest import ADMIN_TOKEN, API_KEY, with_tokens

SECOND_KEY = "second-api-key-0123456789"


@pytest.mark.parametrize(
    ("authorization", "api_key", "token"),
    [
        (None, None, None),
        ("Bearer abc", None, b"abc"),
        (b"bearer   abc ", None, b"abc"),
        ("Basic abc", None, None),
        ("Bearer", None, None),
        ("Bearer abc", "def", b"def"),
        (None, b"def", b"def"),
    ],
)
def test_the_token_is_read_from_x_api_key_or_a_bearer_header(authorization, api_key, token):
    assert auth.token_from(authorization, api_key) == token


@pytest.fixture
def guard(settings):
    keys = SecretStr(f"{API_KEY}, {SECOND_KEY}")
    return auth.Guard(with_tokens(settings, api_keys=keys))


def _status(guard: auth.Guard, token: str | None, admin: bool = False) -> int:
    try:
        guard.check(token.encode() if token else None, admin=admin)
    except auth.AuthError as error:
        return error.status
    return 200


def test_each_api_key_passes_predictions_and_only_the_admin_token_passes_admin_calls(guard):
    assert [_status(guard, t) for t in (API_KEY, SECOND_KEY, ADMIN_TOKEN)] == [200, 200, 200]
    assert [_status(guard, t) for t in (None, "", API_KEY + "x", API_KEY[:-1])] == [401] * 4
    assert [_status(guard, t, admin=True) for t in (API_KEY, SECOND_KEY)] == [403, 403]
    assert [_status(guard, t, admin=True) for t in (None, "wrong-admin-token-00")] == [401, 401]
    assert _status(guard, ADMIN_TOKEN, admin=True) == 200


def test_with_auth_off_predictions_are_open_and_admin_calls_are_not(settings):
    guard = auth.Guard(with_tokens(settings, auth_required=False))
    assert _status(guard, None) == _status(guard, "anything-at-all-000") == 200
    assert _status(guard, None, admin=True) == 401
    assert _status(guard, API_KEY, admin=True) == 403
    assert _status(guard, ADMIN_TOKEN, admin=True) == 200


def test_refusals_map_to_grpc_codes():
    assert auth.AuthError(401, "").grpc_code == "UNAUTHENTICATED"
    assert auth.AuthError(403, "").grpc_code == "PERMISSION_DENIED"


def test_tokens_are_compared_in_constant_time(guard, monkeypatch):
    compared = []

    def compare_digest(a, b):
        compared.append((a, b))
        return a == b

    monkeypatch.setattr(auth.hmac, "compare_digest", compare_digest)
    assert _status(guard, SECOND_KEY) == 200
    assert (SECOND_KEY.encode(), SECOND_KEY.encode()) in compared
    assert (SECOND_KEY.encode(), API_KEY.encode()) in compared  # every key, not only until a match
