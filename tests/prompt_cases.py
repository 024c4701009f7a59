"""The labelled interview prompts (tests/prompts/labelled.jsonl) and how --prompt is scored on them.

Each line holds ``id``, ``split`` (tune or test), ``prompt`` and the fields a reader would infer
from it: a bank key with its value, or a list of acceptable values (labels and entity names),
and ``name``: words of which one must appear in the project name. The split was made once,
per use case, by ``assign_splits`` with a fixed seed; tuning looks only at the tune half.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

LABELLED = Path(__file__).parent / "prompts" / "labelled.jsonl"
DEV = Path(__file__).parent / "prompts" / "dev.jsonl"  # written while tuning: not a held-out estimate
DEV2 = Path(__file__).parent / "prompts" / "dev2.jsonl"  # a fresh batch, written before the generalisation work
DEV3 = Path(__file__).parent / "prompts" / "dev3.jsonl"  # another fresh batch, written after the first round
DEV4 = Path(__file__).parent / "prompts" / "dev4.jsonl"  # a fresh batch of 85, written before the second round
DEV5 = Path(__file__).parent / "prompts" / "dev5.jsonl"  # 65 more (45 custom), written before the third round
DEV6 = Path(__file__).parent / "prompts" / "dev6.jsonl"  # 40 custom, written after the third round, before a fourth
DEV7 = Path(__file__).parent / "prompts" / "dev7.jsonl"  # 35 custom, written after the fourth round
DEV8 = Path(__file__).parent / "prompts" / "dev8.jsonl"  # 36, written after the fifth round
DEV_SPLITS = {
    "dev": DEV,
    "dev2": DEV2,
    "dev3": DEV3,
    "dev4": DEV4,
    "dev5": DEV5,
    "dev6": DEV6,
    "dev7": DEV7,
    "dev8": DEV8,
}
SEED = 20261203
META = ("id", "split", "prompt")


def load(split: str | None = None) -> list[dict]:
    """Return the labelled prompts, all of them or one split (tune, test, or dev..dev8: the tuning extras)."""
    path = DEV_SPLITS.get(split or "", LABELLED)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if split in DEV_SPLITS:
        return [row | {"split": split} for row in rows]
    return [row for row in rows if split is None or row["split"] == split]


def assign_splits(rows: list[dict]) -> dict[str, str]:
    """Return id -> split: per use case, a seeded shuffle puts half (rounded down) in test."""
    groups: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        groups[row["use_case"]].append(row["id"])
    rng = random.Random(SEED)
    splits = {}
    for use_case in sorted(groups):
        ids = sorted(groups[use_case])
        rng.shuffle(ids)
        half = len(ids) // 2
        splits |= {row_id: "test" for row_id in ids[:half]} | {row_id: "tune" for row_id in ids[half:]}
    return splits


def expected_fields(row: dict) -> dict:
    return {key: value for key, value in row.items() if key not in META}


def answers_for(prompt: str) -> dict | None:
    """Return the answers `mlsd design --no-input --prompt` resolves, or None when it refuses."""
    from mlsd.cli import UsageProblem, _collect

    try:
        _, answers, _, _ = _collect(prompt, None, None, (), True, True)
    except UsageProblem:
        return None
    return answers


def field_matches(key: str, expected, answers: dict) -> bool:
    if key == "name":
        return any(word.lower() in str(answers.get("project_name", "")).lower() for word in expected)
    if isinstance(expected, list):
        return answers.get(key) in expected
    return answers.get(key) == expected


@dataclass
class Score:
    """Per-field counts of right answers over the labelled prompts, and the refused prompts."""

    right: dict = field(default_factory=lambda: defaultdict(int))
    total: dict = field(default_factory=lambda: defaultdict(int))
    refused: list = field(default_factory=list)
    wrong: list = field(default_factory=list)
    prompts: int = 0

    def accuracy(self, key: str) -> float:
        return self.right[key] / self.total[key] if self.total[key] else 1.0


def score(rows: list[dict]) -> Score:
    """Return how many labelled fields the CLI path gets right (a refusal gets every field wrong)."""
    result = Score(prompts=len(rows))
    for row in rows:
        answers = answers_for(row["prompt"])
        if answers is None:
            result.refused.append(row["id"])
        for key, expected in expected_fields(row).items():
            result.total[key] += 1
            if answers is not None and field_matches(key, expected, answers):
                result.right[key] += 1
            else:
                got = None if answers is None else answers.get("project_name" if key == "name" else key)
                result.wrong.append((row["id"], key, expected, got))
    return result
