"""Generator benchmark: mlsd start-up and generation against plain cookiecutter and `cp -r`.

Runs each command as a whole process, interleaved (A B C D A B C D ...) after warm-ups, and
prints median wall and CPU time (user+sys of the process and its children) with ratios.
Usage: python bench/generate.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def install_wheel(work: Path) -> str:
    """Build mlsd's wheel, install it with bytecode into a venv under ``work``; return its mlsd."""
    dist, venv = work / "dist", work / "venv"
    quiet = {"check": True, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)], **quiet
    )
    subprocess.run([_bin("uv"), "venv", "--python", sys.executable, str(venv)], **quiet)
    subprocess.run(
        [
            _bin("uv"),
            "pip",
            "install",
            "--compile-bytecode",
            "--python",
            str(venv / "bin/python"),
            str(next(dist.glob("*.whl"))),
        ],
        **quiet,
    )
    return str(venv / "bin/mlsd")


def measure(command: list[str], cwd: Path) -> tuple[float, float]:
    """Return (wall seconds, CPU seconds) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


IN_PROCESS = """
import statistics, sys, tempfile, time, shutil
from pathlib import Path
from mlsd import engine, render
from mlsd.spec import spec
answers, _ = engine.resolve({"use_case": sys.argv[1]}, spec())
render.generate(answers, spec(), Path(tempfile.mkdtemp()))  # warm: presets, precompiled code
times = []
for _ in range(int(sys.argv[2])):
    out = Path(tempfile.mkdtemp())
    start = time.process_time()
    render.generate(answers, spec(), out)
    times.append(time.process_time() - start)
    shutil.rmtree(out)
print(statistics.median(times))
"""


def in_process_ms(python: str, preset_id: str, runs: int) -> float:
    """Median CPU ms of one generation inside a warm process (no interpreter start or imports)."""
    result = subprocess.run(
        [python, "-c", IN_PROCESS, preset_id, str(runs)], check=True, capture_output=True, text=True
    )
    return float(result.stdout.strip()) * 1e3


def largest_preset() -> tuple[str, dict]:
    from mlsd import engine, render
    from mlsd.spec import presets, spec

    best = None
    for preset in presets():
        answers, _ = engine.resolve({"use_case": preset["id"]}, spec())
        count = len(render.planned_files(answers, spec()))
        if best is None or count > best[0]:
            best = (count, preset["id"], answers)
    return best[1], best[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    # Measure what a user gets: installed packages with their bytecode (PYTHONDONTWRITEBYTECODE
    # would otherwise make every run recompile click, jinja2 and cookiecutter from source).
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", sysconfig.get_paths()["purelib"], str(ROOT / "src")],
        check=False,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    preset_id, answers = largest_preset()
    work = Path(tempfile.mkdtemp(prefix="mlsd-bench-"))
    try:
        mlsd = install_wheel(work)
        config = work / "cookiecutter.yaml"
        config.write_text(json.dumps({"cookiecutters_dir": str(work / "cc"), "replay_dir": str(work / "replay")}))
        extra = [f"{k}={json.dumps(v) if isinstance(v, bool) else v}" for k, v in answers.items()]
        reference = work / "reference"
        subprocess.run(
            [_bin("mlsd"), "new", "--no-input", "-q", "--preset", preset_id, "-o", str(reference)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        rendered = next(reference.iterdir())
        files = sum(1 for p in rendered.rglob("*") if p.is_file())
        counter = {"n": 0}

        def fresh() -> str:
            counter["n"] += 1
            return str(work / f"out{counter['n']}")

        commands = {
            "mlsd --help": lambda: [mlsd, "--help"],
            f"mlsd new --no-input --preset {preset_id}": lambda: [
                _bin("mlsd"),
                "new",
                "--no-input",
                "-q",
                "--preset",
                preset_id,
                "-o",
                fresh(),
            ],
            "cookiecutter --no-input (same template, answers, hooks)": lambda: [
                _bin("cookiecutter"),
                "--no-input",
                "--config-file",
                str(config),
                "-o",
                fresh(),
                str(ROOT),
                *extra,
            ],
            "cp -r of the rendered tree": lambda: ["cp", "-r", str(rendered), fresh()],
            "python -c pass": lambda: [sys.executable, "-c", "pass"],
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _warm in range(2):
            for build in commands.values():
                measure(build(), work)
        for _ in range(args.runs):
            for name, build in commands.items():
                results[name].append(measure(build(), work))
        warm_ms = in_process_ms(str(Path(mlsd).parent / "python"), preset_id, args.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {
        name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
        for name, runs in results.items()
    }
    generator = f"mlsd new --no-input --preset {preset_id}"
    plain = "cookiecutter --no-input (same template, answers, hooks)"
    print(f"generated files: {files}; runs: {args.runs} interleaved after 2 warm-ups; {os.cpu_count()} cores")
    print(f"{'command':58} {'wall ms':>9} {'CPU ms':>8} {'wall / cookiecutter':>20} {'wall / cp -r':>13}")
    for name, (wall, cpu) in medians.items():
        print(
            f"{name:58} {wall * 1e3:9.1f} {cpu * 1e3:8.1f} {wall / medians[plain][0]:20.2f} "
            f"{wall / medians['cp -r of the rendered tree'][0]:13.1f}"
        )
    per_file = (medians[generator][1] - medians["python -c pass"][1]) / files * 1e3
    marginal = (medians[generator][1] - medians["mlsd --help"][1]) / files * 1e3
    print(
        f"mlsd CPU per generated file: {per_file:.2f} ms minus interpreter start; "
        f"{marginal:.2f} ms minus CLI start-up (mlsd --help)"
    )
    print(
        f"in a warm process (no interpreter start, no imports): {warm_ms:.1f} ms CPU per project, "
        f"{warm_ms / files:.2f} ms per file"
    )
    print(
        f"targets: --help < 100 ms: {medians['mlsd --help'][0] * 1e3:.0f} ms; "
        f"generation <= 0.5 x cookiecutter: {medians[generator][0] / medians[plain][0]:.2f}; "
        f"< 1 ms per file: {per_file:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
