"""Prompt understanding benchmark: per-field accuracy and refusals of --prompt on the labelled prompts.

Runs every labelled prompt (tests/prompts/labelled.jsonl, dev*.jsonl) through the
`mlsd design --no-input --prompt` answers path and prints, per split (tune, dev..dev8, test), the
share of labelled fields that came out as a reader would infer them, and how many prompts were
refused. Tune only on tune and the dev splits; the test half is the estimate (tests/test_prompt_dataset.py
holds it to 90 % per field): leave it out with --splits while tuning.
Usage: python bench/prompts.py [--splits tune,dev,dev2,...,dev8,test] [--wrong tune|dev|dev2|...|dev8|test|all]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import prompt_cases  # noqa: E402


def table(scores: dict[str, prompt_cases.Score]) -> list[str]:
    keys = sorted({key for score in scores.values() for key in score.total}, key=lambda k: (k != "use_case", k))
    header = f"{'field':28}" + "".join(f"{name:>18}" for name in scores)
    lines = [header, "-" * len(header)]
    for key in keys:
        cells = []
        for score in scores.values():
            total = score.total[key]
            cells.append(f"{score.accuracy(key):7.1%} ({score.right[key]:3}/{total:3})" if total else f"{'-':>18}")
        lines.append(f"{key:28}" + "".join(f"{cell:>18}" for cell in cells))
    lines.append("-" * len(header))
    lines.append(f"{'refusals':28}" + "".join(f"{len(score.refused):>18}" for score in scores.values()))
    lines.append(f"{'prompts':28}" + "".join(f"{score.prompts:>18}" for score in scores.values()))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--splits", default="tune,dev,dev2,dev3,dev4,dev5,dev6,dev7,dev8,test", help="comma-separated splits to score"
    )
    parser.add_argument(
        "--wrong",
        choices=["tune", "dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "test", "all"],
        help="also list the wrong fields of a split",
    )
    args = parser.parse_args(argv)
    splits = [
        split
        for split in ("tune", "dev", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "test")
        if split in args.splits.split(",")
    ]
    scores = {split: prompt_cases.score(prompt_cases.load(split)) for split in splits}
    print("\n".join(table(scores)))
    if args.wrong:
        rows = prompt_cases.load() + [row for split in prompt_cases.DEV_SPLITS for row in prompt_cases.load(split)]
        prompts = {row["id"]: row["prompt"] for row in rows}
        for split, score in scores.items():
            if args.wrong in (split, "all"):
                for row_id, key, expected, got in score.wrong:
                    print(f"{split} {row_id} {key}: expected {expected!r}, got {got!r}  | {prompts[row_id]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
