"""Who may call the service: API keys for predictions, a separate admin token for operations.

A caller sends its token as ``Authorization: Bearer <token>`` or ``x-api-key: <token>`` (HTTP
headers, or gRPC metadata under the same names). Prediction calls need one of ``api_keys``
unless ``auth_required`` is off (``configs/local.yaml``); admin operations (reloading the model)
always need ``admin_token``, which also passes wherever an API key does. Tokens come from the
environment (``SecretStr`` settings, a Kubernetes Secret in production) and are compared with
``hmac.compare_digest``. No or a wrong token: 401 / ``UNAUTHENTICATED``; an API key on an admin
operation: 403 / ``PERMISSION_DENIED``.
"""

from __future__ import annotations

import hmac

from ..settings import ENV_PREFIX, Settings

MIN_TOKEN_LENGTH = 16
REALM = "{{ cookiecutter.project_slug }}"
CHALLENGE = f'Bearer realm="{REALM}"'
"""The ``WWW-Authenticate`` value of every 401 answer."""


class AuthError(Exception):
    """A refused call: ``status`` 401 (who are you?) or 403 (not allowed to)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail

    @property
    def grpc_code(self) -> str:
        """Return the ``grpc.StatusCode`` name of this refusal."""
        return "UNAUTHENTICATED" if self.status == 401 else "PERMISSION_DENIED"


def split_keys(value: str) -> list[str]:
    """Return the comma-separated keys of ``api_keys``, blanks dropped."""
    return [key.strip() for key in value.split(",") if key.strip()]


def token_from(authorization: str | bytes | None, api_key: str | bytes | None) -> bytes | None:
    """Return the caller's token: ``x-api-key``, else a ``Bearer`` credential, else None."""
    if api_key:
        return api_key.encode() if isinstance(api_key, str) else api_key
    if not authorization:
        return None
    raw = authorization.encode() if isinstance(authorization, str) else authorization
    scheme, _, credential = raw.strip().partition(b" ")
    credential = credential.strip()
    return credential if scheme.lower() == b"bearer" and credential else None


class Guard:
    """Checks tokens against the configured API keys and admin token."""

    def __init__(self, settings: Settings) -> None:
        keys = split_keys(settings.api_keys.get_secret_value())
        admin = settings.admin_token.get_secret_value().strip()
        for name, value in [("admin_token", admin), *(("api_keys", key) for key in keys)]:
            if value and len(value) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"{name} holds a token shorter than {MIN_TOKEN_LENGTH} characters: make one "
                    "with python -c 'import secrets; print(secrets.token_urlsafe(32))'"
                )
        if settings.auth_required and not keys:
            raise ValueError(
                f"auth_required is on but no API key is set: set {ENV_PREFIX}API_KEYS "
                "(or auth_required: false in a local config)"
            )
        if admin and admin in keys:
            raise ValueError("admin_token is also in api_keys: give admin operations their own")
        self.required = settings.auth_required
        self._keys = tuple(key.encode() for key in keys)
        self._admin = admin.encode() or None

    def _is_key(self, token: bytes) -> bool:
        # every key is compared (a list, not a generator): the time does not tell which matched
        return any([hmac.compare_digest(token, key) for key in self._keys])

    def check(self, token: bytes | None, admin: bool = False) -> None:
        """Return if ``token`` may make the call (an admin operation when ``admin``); else raise."""
        if not admin and not self.required:
            return
        if token is None:
            wanted = "the admin token" if admin else "an API key"
            raise AuthError(401, f"send {wanted} as 'Authorization: Bearer <token>' or 'x-api-key'")
        if self._admin is not None and hmac.compare_digest(token, self._admin):
            return
        if not admin and self._is_key(token):
            return
        if admin and self._is_key(token):
            raise AuthError(403, "an API key may not run admin operations: send the admin token")
        if admin and self._admin is None:
            raise AuthError(401, f"admin operations are off: set {ENV_PREFIX}ADMIN_TOKEN first")
        raise AuthError(401, "invalid admin token" if admin else "invalid API key")
