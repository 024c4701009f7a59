"""Schemathesis hooks of ``tests/test_api_contract.py``: what a valid float64 batch body is.

OpenAPI can only call an ``application/octet-stream`` body binary; the server reads it as rows
of ``N_FEATURES`` finite little-endian float64 values, which this strategy writes (the CLI
imports this module by name: ``SCHEMATHESIS_HOOKS=contract_hooks``).
"""

from __future__ import annotations

import numpy as np
import schemathesis
from hypothesis import strategies as st

from {{ cookiecutter.package_name }} import schema

N_FEATURES = len(schema.feature_names())
FINITE = st.floats(-schema.FEATURE_LIMIT, schema.FEATURE_LIMIT)
ROWS = st.lists(st.lists(FINITE, min_size=N_FEATURES, max_size=N_FEATURES), min_size=1, max_size=8)

schemathesis.openapi.media_type(
    "application/octet-stream", ROWS.map(lambda rows: np.asarray(rows, dtype="<f8").tobytes())
)
