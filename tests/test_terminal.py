"""One interview through a real pseudo-terminal: counter, labelled choices, re-ask, Ctrl-C."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

pexpect = pytest.importorskip("pexpect")
ANSI = r"(?:\x1b\[[0-9;]*m)*"  # the counter is dimmed in a terminal


def _spawn(tmp_path: Path, *args: str):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "mlsd.cli", "new", "-o", str(tmp_path), *args],
        encoding="utf-8",
        timeout=30,
        env={
            "PATH": "/usr/bin:/bin",
            "TERM": "dumb",
            "HOME": str(tmp_path),
            "COLUMNS": "120",
            "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src"),
        },
        dimensions=(40, 120),
    )
    return child


def test_interview_in_a_terminal(tmp_path):
    child = _spawn(tmp_path)
    child.expect(r"\[1/\d+\]" + ANSI + " Use case")
    child.expect("1 - Custom \\(answer every question\\) \\[custom\\]")
    child.expect("Choose from 1-15")
    child.sendline("")
    child.expect(r"\[2/\d+\]" + ANSI + " Project name")
    child.sendline("Term Service")
    child.expect("Project folder")
    child.sendline("")
    for _ in range(7):  # package, description, author, email, python, license, objective
        child.expect(r"\[\d+/\d+\]")
        child.sendline("")
    child.expect("When are predictions made")
    child.sendline("2")  # batch: the latency and serving questions must not come
    child.expect("How fresh must features be")
    child.sendline("4")  # seconds: a stream engine is suggested with its reason
    child.expect("Daily active users")
    child.sendline("lots")
    child.expect("daily_active_users=lots is not a whole number")
    child.sendline("2000")
    seen_stream = False
    while True:
        index = child.expect(
            [r"\[\d+/\d+\]" + ANSI + " Stream engine", r"\[\d+/\d+\]" + ANSI + " Latency", r"\[\d+/\d+\]", "Plan for"]
        )
        if index == 0:
            seen_stream = True
            child.expect("suggested embedded: features fresher than an hour need stream ingestion")
            child.sendline("")
        elif index == 1:
            raise AssertionError("the latency question was asked for batch predictions")
        elif index == 2:
            child.sendline("")
        else:
            break
    assert seen_stream
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    answers = yaml.safe_load((tmp_path / "term-service/.mlsd/answers.yml").read_text(encoding="utf-8"))
    assert answers["prediction_mode"] == "batch"
    assert answers["serving"] == "none"
    assert answers["stream_engine"] == "embedded"
    assert answers["daily_active_users"] == 2000


def test_ctrl_c_in_the_interview_writes_nothing(tmp_path):
    child = _spawn(tmp_path)
    child.expect("Use case")
    child.sendline("")
    child.expect("Project name")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    assert "aborted" in child.before
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")] == []
