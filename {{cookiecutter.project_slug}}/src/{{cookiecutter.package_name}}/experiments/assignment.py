"""Sticky experiment assignment and the exposure log.

``assign`` hashes ``salt:unit_id`` with sha256 into 10,000 buckets: the same unit always gets
the same variant, a new salt reshuffles, and no state is stored. Exposures are appended to
``experiments/exposures.jsonl`` under ``var_dir`` with their time, for the analysis
(``analysis.analyze`` joins them with an outcomes file).{% if cookiecutter.contains_pii %} Units are pseudonymized ids: the
serving core pseudonymizes request ids before it assigns them (``privacy.py``).{% endif %}
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import TextIO

from ..settings import Settings

BUCKETS = 10_000


def bucket(unit_id: int | str, salt: str) -> int:
    """Return the unit's bucket in ``[0, BUCKETS)``."""
    digest = hashlib.sha256(f"{salt}:{unit_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def assign(unit_id: int | str, salt: str, treatment_share: float = 0.5) -> str:
    """Return ``"treatment"`` for the first ``treatment_share`` of buckets, else ``"control"``."""
    return "treatment" if bucket(unit_id, salt) < treatment_share * BUCKETS else "control"


class ExposureLog:
    """Append-only JSON lines of (experiment, unit, variant, ts: epoch seconds)."""

    def __init__(self, settings: Settings) -> None:
        self.path = settings.directory("experiments") / "exposures.jsonl"
        self._lock = threading.Lock()
        self._handle: TextIO | None = None

    def record(self, experiment: str, units: list[int | str], variants: list[str]) -> None:
        """Append one exposure per (unit, variant), stamped with the current time."""
        now = round(time.time(), 3)
        lines = "".join(
            json.dumps({"experiment": experiment, "unit": unit, "variant": variant, "ts": now})
            + "\n"
            for unit, variant in zip(units, variants, strict=True)
        )
        with self._lock:
            if self._handle is not None and os.fstat(self._handle.fileno()).st_nlink == 0:
                self._handle.close()  # ``purge`` replaced the file: append to the new one
                self._handle = None
            if self._handle is None:
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write(lines)
            self._handle.flush()

    def counts(self, experiment: str) -> dict[str, int]:
        """Return exposed units per variant (each unit counted once)."""
        seen: dict[str, set] = {}
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                if row["experiment"] == experiment:
                    seen.setdefault(row["variant"], set()).add(row["unit"])
        return {variant: len(units) for variant, units in sorted(seen.items())}
