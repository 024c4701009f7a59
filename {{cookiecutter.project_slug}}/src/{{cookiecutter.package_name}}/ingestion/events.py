"""Stream events: the fields of one user-activity event and how a raw line is validated.

Standard library and the feature schema only, so every consumer of the event stream (the
project's consumer{% if cookiecutter.stream_engine == 'flink' %} and the PyFlink job, which runs in its own environment{% endif %}) validates
events the same way.
"""

from __future__ import annotations

import json

from .. import schema

ACTIVITY = f"{schema.USER_ENTITY}_activity_7d"
FIELDS = {schema.EVENT_KEY: str, schema.USER_KEY: int, schema.EVENT_TIME: float, ACTIVITY: float}


def parse_event(line: str) -> tuple[dict | None, str | None]:
    """Return ``(event, None)`` for a valid line, else ``(None, reason)``."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as error:
        return None, f"invalid JSON: {error.msg}"
    if not isinstance(event, dict):
        return None, "event is not an object"
    for name, kind in FIELDS.items():
        value = event.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, (kind, int)):
            return None, f"missing or invalid {name}"
    if event[schema.USER_KEY] < 0 or event[ACTIVITY] < 0:
        return None, f"negative {schema.USER_KEY} or {ACTIVITY}"
    return {name: kind(event[name]) for name, kind in FIELDS.items()}, None
