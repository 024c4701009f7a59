"""Serving benchmark: the served model side by side with its floor and with MLflow, in one run.

``make bench`` (after ``make demo``) starts each server as a subprocess on a free 127.0.0.1 port
with the same settings as ``make serve`` (one uvicorn worker, uvloop + httptools, no access log;
one ``grpc.aio`` server), loads it with ``connections`` connections, one request in flight on
each, for ``duration`` seconds after a warm-up, reads the server's CPU time (utime + stime of its
process tree in /proc) at both ends of the measured window, stops every server (also on error or
Ctrl-C) and prints one table:

- floors: a raw ASGI app and a ``grpc.aio`` server answering a constant, each sent the same body
  as the rows compared with it: what the server stack alone costs per request;
- ``POST /predict`` with the features in the request, and with entity ids (features read from
  the online store), reported separately;
- ``mlflow models serve`` of the same estimator (projects with ``registry=mlflow``);
- ``POST /predict/batch`` with 256 rows, as JSON and as packed float64;
- gRPC (projects with gRPC): single rows and 256-row packed batches;
- hot swaps under load (REST, local registry): ``POST /predict`` by entity ids for ``duration``
  seconds while another thread swaps the champion back and forth without pause (promote a second
  version, ``POST /model/reload``, roll back, reload) in a copy of the registry
  (``var/bench/swaps``); reports requests, failed requests, p50/p99, swaps, and the server's RSS
  at the start and the end of the window (its growth over the run).

The load generator is ``h2load`` (nghttp2; HTTP/1.1 keep-alive for REST, h2c for gRPC) when it is
on PATH (``apt install nghttp2-client``, ``brew install nghttp2``): a C client leaves the two
cores of a small machine to the server. Otherwise a Python client (asyncio + uvloop for HTTP,
``grpc.aio`` for gRPC) runs in its own process; it spends more CPU per request than the servers
it loads, so it under-reports them (~45 % for gRPC). h2load checks HTTP statuses only: every
server's answer is checked once before it is loaded.

Ratios: x floor = req/s / req/s of the floor sent the same body, x mlflow = req/s / mlflow req/s
(single rows), overhead = server CPU us/request - the floor's. Servers write their prediction
and exposure logs under ``var/bench`` so the demo's drift report and experiment analysis stay as
they were. Numbers are for this machine and this run only: compare rows, never assert on them in
tests.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from ..settings import ENV_PREFIX, Settings

MODULE = f"{__package__}.bench"
PACKAGE = str(__package__).rsplit(".", 1)[0]
HOST = "127.0.0.1"
BATCH_ROWS = 256
FLOOR_BODY = b'{"prediction":0.5,"model_version":1,"variant":"control"}'
FLOOR_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(FLOOR_BODY)).encode()),
]
GRPC_FLOOR_ANSWER = b"\x0a\x08" + struct.pack("<d", 0.5) + b"\x10\x01\x1a\x07control"
"""A serialized PredictResponse(scores=[0.5], model_version=1, variant="control")."""
KEPT_OUT_OF_THE_BENCH = ("bench", "logs", "experiments", "reports")
CLIENTS = ("auto", "h2load", "python")
START_TIMEOUT_S = {"floor": 60.0, "grpc-floor": 60.0, "rest": 120.0, "grpc": 120.0, "mlflow": 300.0}


async def floor_app(scope, receive, send) -> None:
    """Raw ASGI app: read the request body, answer a constant JSON (the floor of any endpoint)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": FLOOR_HEADERS})
    await send({"type": "http.response.body", "body": FLOOR_BODY})


def serve_floor(port: int) -> None:
    """Run ``floor_app`` like ``make serve`` runs the API: one worker, no access log."""
    import uvicorn

    uvicorn.run(floor_app, host=HOST, port=port, access_log=False, log_level="warning")


def serve_grpc_floor(port: int) -> None:
    """Run a ``grpc.aio`` server answering every Predictor call with a constant (gRPC floor)."""
    import grpc

    async def constant(request: bytes, context) -> bytes:
        return GRPC_FLOOR_ANSWER

    async def main() -> None:
        server = grpc.aio.server()
        handlers = {
            name: grpc.unary_unary_rpc_method_handler(constant)
            for name in ("Predict", "PredictBatch")
        }
        service = grpc.method_handlers_generic_handler(f"{PACKAGE}.v1.Predictor", handlers)
        server.add_generic_rpc_handlers((service,))
        server.add_insecure_port(f"{HOST}:{port}")
        await server.start()
        await server.wait_for_termination()

    asyncio.run(main())


# ---------------------------------------------------------------- load generator (own process)


def _tree_cpu_s(pid: int) -> float:
    """Return utime + stime in seconds of ``pid`` and its descendants, from /proc."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        ticks[int(entry.name)] = int(fields[11]) + int(fields[12])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(p, 0) for p in tree) / os.sysconf("SC_CLK_TCK")


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response; return its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    start = lower.find(b"\r\ncontent-length:")
    if start >= 0:
        end = lower.index(b"\r\n", start + 2)
        await reader.readexactly(int(lower[start + 17 : end]))
    elif b"transfer-encoding: chunked" in lower:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _http_worker(spec: dict, request: bytes, window: tuple[float, float], out: dict) -> None:
    start, end = window
    writer = None
    while time.perf_counter() < end:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
            sent = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            out["errors"] += 1
            out["error"] = repr(error)
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
            continue
        done = time.perf_counter()
        if start <= sent and done <= end:
            out["latencies"].append(done - sent)
            if status != 200:
                out["errors"] += 1
                out["error"] = f"HTTP {status}"
    if writer is not None:
        writer.close()


async def _grpc_worker(spec: dict, call, request: bytes, window: tuple, out: dict) -> None:
    start, end = window
    while time.perf_counter() < end:
        sent = time.perf_counter()
        try:
            await call(request, timeout=10)
        except Exception as error:  # any RPC failure is counted, never raised
            out["errors"] += 1
            out["error"] = repr(error)[:200]
            await asyncio.sleep(0.01)
            continue
        done = time.perf_counter()
        if start <= sent and done <= end:
            out["latencies"].append(done - sent)


async def _load(spec: dict) -> dict:
    body = Path(spec["body_file"]).read_bytes()
    out: dict = {"latencies": [], "errors": 0, "error": None}
    begin = time.perf_counter()
    window = (begin + spec["warmup"], begin + spec["warmup"] + spec["duration"])
    channel = None
    if spec["kind"] == "grpc":
        import grpc

        channel = grpc.aio.insecure_channel(f"{spec['host']}:{spec['port']}")
        call = channel.unary_unary(spec["path"])
        workers = [_grpc_worker(spec, call, body, window, out) for _ in range(spec["connections"])]
    else:
        head = (
            f"POST {spec['path']} HTTP/1.1\r\nhost: {spec['host']}:{spec['port']}\r\n"
            f"content-type: {spec['content_type']}\r\ncontent-length: {len(body)}\r\n\r\n"
        )
        request = head.encode() + body
        workers = [_http_worker(spec, request, window, out) for _ in range(spec["connections"])]

    async def cpu_at(moment: float) -> float:
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        return _tree_cpu_s(spec["pid"])

    *_, cpu_start, cpu_end = await asyncio.gather(*workers, cpu_at(window[0]), cpu_at(window[1]))
    if channel is not None:
        await channel.close()
    latencies = sorted(out["latencies"])
    n = len(latencies)
    return {
        "requests": n,
        "seconds": spec["duration"],
        "cpu_s": cpu_end - cpu_start,
        "p50_ms": latencies[n // 2] * 1e3 if n else None,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else None,
        "errors": out["errors"],
        "error": out["error"],
    }


def load(spec: dict) -> dict:
    """Drive one server for ``warmup + duration`` seconds; return what the window measured."""
    with suppress(ImportError):
        import uvloop

        return uvloop.run(_load(spec))
    return asyncio.run(_load(spec))


def h2load_path() -> str | None:
    """Return the h2load executable on PATH, or None."""
    return shutil.which("h2load")


def _h2load(spec: dict) -> dict:
    """Drive one server with h2load for ``warmup + duration`` seconds; same fields as ``load``."""
    folder = Path(spec["body_file"]).parent
    log_file = folder / "h2load.log"
    log_file.unlink(missing_ok=True)
    command = [
        spec["h2load"],
        *("-c", str(spec["connections"]), "-m", "1", "-t", "1"),
        *("-D", f"{round(spec['duration'] * 1000)}ms"),
        f"--warm-up-time={max(1, round(spec['warmup'] * 1000))}ms",
        *("-d", spec["body_file"], "--log-file", str(log_file)),
    ]
    if spec["kind"] == "grpc":
        command += ["-H", "content-type: application/grpc", "-H", "te: trailers"]
    else:
        command += ["--h1", "-H", f"content-type: {spec['content_type']}"]
    command.append(f"http://{spec['host']}:{spec['port']}{spec['path']}")
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
    )
    try:
        marks = []
        for moment in (spec["warmup"], spec["warmup"] + spec["duration"]):
            time.sleep(max(0.0, started + moment - time.perf_counter()))
            marks.append(_tree_cpu_s(spec["pid"]))
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        tail = output.decode(errors="replace").strip().splitlines()[-3:]
        raise RuntimeError(f"h2load exited with {process.returncode}: {' / '.join(tail)}")
    latencies, errors, error = [], 0, None
    for line in log_file.read_text().splitlines():
        _, status, elapsed = line.split("\t")[:3]
        latencies.append(int(elapsed) / 1e6)
        if status == "-1" or int(status) >= 300:  # 0: cut by the end of the window, not failed
            errors += 1
            error = "stream failed" if status == "-1" else f"HTTP {status}"
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "seconds": spec["duration"],
        "cpu_s": marks[1] - marks[0],
        "p50_ms": latencies[n // 2] * 1e3 if n else None,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1e3 if n else None,
        "errors": errors,
        "error": error,
    }


# ---------------------------------------------------------------- servers (subprocesses)


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    port: int
    log: Path


@dataclass
class Row:
    name: str
    server: str
    path: str
    body: bytes
    content_type: str = "application/json"
    rows: int = 1
    kind: str = "http"
    floor: str = ""
    """Name of the floor row this row is compared with (sent the same body); none for floors."""
    result: dict = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _http(
    port: int,
    method: str,
    path: str,
    body: bytes = b"",
    content_type: str = "",
    headers: dict | None = None,
) -> tuple:
    """Return ``(status, body)`` of one request (stdlib client, for checks only)."""
    import http.client

    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {**({"content-type": content_type} if content_type else {}), **(headers or {})}
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _stop(server: Server) -> None:
    """Stop a server's process group (SIGTERM, then SIGKILL after 10 s)."""
    if server.process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(10)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(5)


def _start(
    stack: ExitStack, name: str, command: list[str], env: dict, settings: Settings
) -> Server:
    """Start ``command`` in its own process group; return once its port answers."""
    port, timeout = _free_port(), START_TIMEOUT_S[name]
    log = settings.directory("bench") / f"{name}.log"
    command = [part.replace("{port}", str(port)) for part in command]
    env = {key: value.replace("{port}", str(port)) for key, value in env.items()}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            command,
            env={**os.environ, **env},
            cwd=settings.root,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = Server(name, process, port, log)
    stack.callback(_stop, server)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-800:]
            raise RuntimeError(f"{name} server exited with {process.returncode}: {tail}")
        with suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return server
        time.sleep(0.2)
    raise RuntimeError(f"{name} server did not listen on {HOST}:{port} within {timeout:.0f} s")


def _wait_ready(server: Server, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        with suppress(OSError):
            status, _ = _http(server.port, "GET", path)
            if status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} server: GET {path} gave {status} for {timeout:.0f} s")


def _bench_settings_env(settings: Settings, folder: Path) -> dict[str, str]:
    """Point the servers at ``var/bench``: the demo's artifacts linked, logs kept apart."""
    for entry in settings.var.iterdir():
        link = folder / entry.name
        if entry.name in KEPT_OUT_OF_THE_BENCH:
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    return {
        f"{ENV_PREFIX}ENV": settings.env,
        f"{ENV_PREFIX}ROOT": str(settings.root),
        f"{ENV_PREFIX}VAR_DIR": str(folder),
        f"{ENV_PREFIX}MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri
        or f"sqlite:///{settings.var / 'mlflow.db'}",
    }


def _mlflow_model(settings: Settings, data: dict, folder: Path) -> Path:
    """Save the champion's estimator as an MLflow model (once per version); return its path."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from .. import schema
    from ..training.predictor import model_output

    path = folder / f"mlflow-model-v{data['version']}"
    if not (path / "MLmodel").exists():
        shutil.rmtree(path, ignore_errors=True)
        logging.getLogger("mlflow").setLevel(logging.ERROR)  # our own model: pickle is trusted
        estimator, sample = data["bundle"]["estimator"], data["matrix"][:8]
        probabilities = schema.TASK in ("binary_classification", "retrieval", "multiclass")
        signature = infer_signature(sample, model_output(estimator, sample))
        mlflow.sklearn.save_model(
            estimator,
            str(path),
            pyfunc_predict_fn="predict_proba" if probabilities else "predict",
            signature=signature,
            serialization_format="cloudpickle",
        )
    return path


def _run_row(row: Row, server: Server, args: dict, folder: Path) -> dict:
    """Load one row with h2load, or the Python client in its own process; return measurements."""
    body_file = folder / "request.bin"
    framed = row.kind == "grpc" and args["h2load"]  # h2load sends bytes: frame them as gRPC
    prefix = b"\x00" + struct.pack(">I", len(row.body)) if framed else b""
    body_file.write_bytes(prefix + row.body)
    spec = {
        "kind": row.kind,
        "host": HOST,
        "port": server.port,
        "path": row.path,
        "content_type": row.content_type,
        "body_file": str(body_file),
        "pid": server.process.pid,
        **args,
    }
    if args["h2load"]:
        try:
            result = _h2load(spec)
        except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as error:
            raise RuntimeError(f"load generator failed on {row.name}: {error}") from error
    else:
        command = [sys.executable, "-m", MODULE, "load", json.dumps(spec)]
        timeout = args["warmup"] + args["duration"] + 60
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed on {row.name}: {done.stderr[-800:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
    result["req_s"] = result["requests"] / result["seconds"]
    result["rows_s"] = result["req_s"] * row.rows
    result["cpu_us"] = result["cpu_s"] / result["requests"] * 1e6 if result["requests"] else None
    return result


# ---------------------------------------------------------------- hot swaps under load


def _rss_mb(pid: int) -> float:
    """Return the resident set size of process ``pid`` in MiB (VmRSS in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _swap_registry(settings: Settings, folder: Path):
    """Return a copy of the registry under ``folder`` holding at least two versions."""
    from ..registry.registry import CHAMPION, LocalRegistry

    copy = folder / "registry"
    if copy.is_symlink() or copy.is_file():
        copy.unlink()
    elif copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(settings.var / "registry", copy)
    registry = LocalRegistry(settings.model_copy(update={"var_dir": folder}))
    if len(registry.versions()) < 2:
        bundle, _ = registry.load(CHAMPION)
        registry.register(bundle, {"note": "copy of the champion for the hot-swap benchmark"})
    return registry


def _swapper(
    registry, port: int, token: str, warmup: float, done: threading.Event, pid: int, out: dict
) -> None:
    """Swap the champion back and forth until ``done``; record swaps and the server's RSS."""
    from ..registry.registry import CHAMPION

    done.wait(warmup)
    out["rss_start_mb"] = _rss_mb(pid)
    first = registry.alias(CHAMPION)
    other = next(v for v in reversed(registry.versions()) if v != first)
    admin = {"authorization": f"Bearer {token}"}
    while not done.is_set():
        if registry.alias(CHAMPION) == first:
            registry.promote(other)
        else:
            registry.rollback()
        status, body = _http(port, "POST", "/model/reload", headers=admin)
        if status == 200:
            out["swaps"] += 1
        else:
            out["swap_failures"] += 1
            out["swap_error"] = f"HTTP {status} {body[:200]!r}"
    out["rss_end_mb"] = _rss_mb(pid)


def run_swaps(
    settings: Settings,
    duration: float = 3.0,
    warmup: float = 0.5,
    connections: int = 16,
    client: str = "auto",
    data: dict | None = None,
) -> dict:
    """Load ``POST /predict`` while the champion is swapped in a loop; return the measurements.

    ``requests``, ``errors`` (failed requests), ``p50_ms``, ``p99_ms``, ``swaps``,
    ``swap_failures`` and the server's ``rss_start_mb``, ``rss_end_mb``, ``rss_growth_mb``.
    Raises ValueError for a project without a REST API or with another registry than local.
    """
    if find_spec(f"{PACKAGE}.serving.app") is None:
        raise ValueError("hot swaps under load need the REST API: the project has none")
    if settings.registry != "local":
        raise ValueError("hot swaps under load copy a local registry: the project's is mlflow")
    h2load = h2load_path() if client != "python" else None
    data = data or _payloads(settings)
    folder = settings.directory("bench", "swaps")
    env = _bench_settings_env(settings, folder)
    registry = _swap_registry(settings, folder)
    token = secrets.token_urlsafe(32)
    env |= {f"{ENV_PREFIX}ADMIN_TOKEN": token, f"{ENV_PREFIX}RELOAD_INTERVAL_S": "0"}
    body = json.dumps({**data["ids"], "context": data["context"]}).encode()
    row = Row("REST /predict, entity ids, hot swaps", "rest", "/predict", body)
    args = {"warmup": warmup, "duration": duration, "connections": connections, "h2load": h2load}
    out = {"swaps": 0, "swap_failures": 0, "swap_error": None}
    with ExitStack() as stack:
        command, extra = _command("rest")
        server = _start(stack, "rest", command, {**env, **extra}, settings)
        _wait_ready(server, "/ready", START_TIMEOUT_S["rest"])
        _first_output(row, server, settings)
        done = threading.Event()
        swapper = threading.Thread(
            target=_swapper,
            args=(registry, server.port, token, warmup, done, server.process.pid, out),
            daemon=True,
        )
        swapper.start()
        try:
            result = _run_row(row, server, args, folder)
        finally:
            done.set()
            swapper.join(timeout=60)
    growth = out["rss_end_mb"] - out["rss_start_mb"]
    return {**result, **out, "rss_growth_mb": growth, "client": "h2load" if h2load else "python"}


def _swaps_line(result: dict) -> str:
    return (
        f"hot swaps under load (REST /predict, entity ids, {result['client']} client): "
        f"{result['requests']:,} requests, {result['errors']} failed, p50 {result['p50_ms']:.2f} "
        f"ms, p99 {result['p99_ms']:.2f} ms; {result['swaps']} swaps (promote/rollback + "
        f"reload), {result['swap_failures']} failed; server RSS {result['rss_start_mb']:.1f} MiB "
        f"at the start, {result['rss_end_mb']:.1f} MiB at the end ({result['rss_growth_mb']:+.1f} "
        "MiB)"
    )


# ---------------------------------------------------------------- the run


def _payloads(settings: Settings) -> dict:
    """Return the champion bundle and request data built from real rows of the feature store."""
    import numpy as np

    from .. import schema
    from ..data.synthetic import raw_user_ids
    from ..features.store import open_store
    from ..registry.registry import CHAMPION, open_registry

    registry = open_registry(settings)
    version = registry.alias(CHAMPION)
    if version is None:
        raise RuntimeError("no champion model: run the pipeline (make demo) first")
    bundle, _ = registry.load(version)
    frame = open_store(settings).get_training_frame()
    batch = frame.sample(BATCH_ROWS, random_state=settings.seed)
    matrix = np.ascontiguousarray(batch[schema.feature_names()].to_numpy(dtype=np.float64))
    first = batch.iloc[0]
    ids = {
        schema.USER_KEY: raw_user_ids(settings, [int(first[schema.USER_KEY])])[0],
        schema.ITEM_KEY: int(first[schema.ITEM_KEY]),
    }
    context = {name: int(first[name]) for name in schema.CONTEXT_DEFAULTS}
    expected = bundle["predictor"].predict_one(matrix[0].tolist())
    return {
        "version": int(version),
        "bundle": bundle,
        "matrix": matrix,
        "ids": ids,
        "context": context,
        "expected": expected,
    }


def _grpc_bodies(settings: Settings, data: dict) -> dict[str, bytes]:
    """Return serialized gRPC requests (the load generator sends bytes, no stubs)."""
    from .grpc_server import load_protos

    messages, _ = load_protos(settings)
    matrix = data["matrix"]
    return {
        "features": messages.PredictRequest(features=matrix[0].tolist()).SerializeToString(),
        "entity": messages.PredictRequest(**data["ids"], **data["context"]).SerializeToString(),
        "batch": messages.PredictBatchRequest(features=matrix.ravel().tolist()).SerializeToString(),
    }


def _plan(settings: Settings, data: dict) -> tuple[list[Row], list[str]]:
    """Return the rows this project can measure, and a note for each one it cannot."""
    has_rest = find_spec(f"{PACKAGE}.serving.app") is not None
    has_grpc = find_spec(f"{PACKAGE}.serving.grpc_server") is not None
    has_uvicorn = find_spec("uvicorn") is not None
    matrix, notes = data["matrix"], []
    single = json.dumps({"features": matrix[0].tolist()}).encode()
    entity = json.dumps({**data["ids"], "context": data["context"]}).encode()
    batch = json.dumps({"features": matrix.tolist()}).encode()
    packed, binary = matrix.astype("<f8").tobytes(), "application/octet-stream"
    rows = []
    floor = "floor: raw ASGI, 1-row body"
    if has_uvicorn:
        rows.append(Row(floor, "floor", "/predict", single))
    else:
        notes.append("floor: skipped, uvicorn is not installed (it comes with the REST API)")
    if has_rest:
        for name, body in (("features in request", single), ("entity ids -> store", entity)):
            rows.append(Row(f"REST /predict, {name}", "rest", "/predict", body, floor=floor))
    else:
        notes.append("REST: skipped, the project has no REST API")
    if settings.registry != "mlflow":
        notes.append("mlflow models serve: skipped, the project's registry is not mlflow")
    elif find_spec("mlflow") is None:
        notes.append("mlflow models serve: skipped, mlflow is not importable")
    else:
        body = json.dumps({"inputs": matrix[:1].tolist()}).encode()
        rows.append(
            Row("mlflow models serve, 1 worker", "mlflow", "/invocations", body, floor=floor)
        )
    if has_rest:
        name, n = f"REST /predict/batch, {BATCH_ROWS} rows", BATCH_ROWS
        for kind, body, content_type in (
            ("JSON", batch, "application/json"),
            ("float64", packed, binary),
        ):
            floor = f"floor: raw ASGI, {n}-row {kind} body"
            rows.append(Row(floor, "floor", "/predict/batch", body, content_type, rows=n))
            rows.append(
                Row(
                    f"{name} {kind}",
                    "rest",
                    "/predict/batch",
                    body,
                    content_type,
                    rows=n,
                    floor=floor,
                )
            )
    if has_grpc:
        bodies, method = _grpc_bodies(settings, data), f"/{PACKAGE}.v1.Predictor/"
        single_floor = "gRPC floor: grpc.aio, 1-row body"
        batch_floor = f"gRPC floor: grpc.aio, {BATCH_ROWS}-row body"
        rows += [
            Row(single_floor, "grpc-floor", f"{method}Predict", bodies["features"], kind="grpc"),
            Row(
                "gRPC Predict, features",
                "grpc",
                f"{method}Predict",
                bodies["features"],
                kind="grpc",
                floor=single_floor,
            ),
            Row(
                "gRPC Predict, entity ids -> store",
                "grpc",
                f"{method}Predict",
                bodies["entity"],
                kind="grpc",
                floor=single_floor,
            ),
            Row(
                batch_floor,
                "grpc-floor",
                f"{method}PredictBatch",
                bodies["batch"],
                kind="grpc",
                rows=BATCH_ROWS,
            ),
            Row(
                f"gRPC PredictBatch, {BATCH_ROWS} rows packed",
                "grpc",
                f"{method}PredictBatch",
                bodies["batch"],
                kind="grpc",
                rows=BATCH_ROWS,
                floor=batch_floor,
            ),
        ]
    else:
        notes.append("gRPC: skipped, the project has no gRPC server")
    return rows, notes


def _command(name: str, model: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """Return the command line and extra environment that start server ``name``."""
    has_rest = find_spec(f"{PACKAGE}.serving.app") is not None
    has_grpc = find_spec(f"{PACKAGE}.serving.grpc_server") is not None
    serve = [sys.executable, "-m", PACKAGE, "serve"]
    if name in ("floor", "grpc-floor"):
        return [sys.executable, "-m", MODULE, name, "{port}"], {}
    if name == "rest":
        protocol = ["--protocol", "rest"] if has_grpc else []
        return serve + protocol, {f"{ENV_PREFIX}SERVE_PORT": "{port}"}
    if name == "grpc":
        protocol = ["--protocol", "grpc"] if has_rest else []
        metrics = str(_free_port())
        return serve + protocol, {
            f"{ENV_PREFIX}GRPC_PORT": "{port}",
            f"{ENV_PREFIX}METRICS_PORT": metrics,
        }
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return [
        *(sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model)),
        *("--env-manager", "local", "-h", HOST, "-p", "{port}", "-w", "1"),
    ], {"PATH": path}  # mlflow starts `uvicorn` from PATH: this environment's


def _first_output(row: Row, server: Server, settings: Settings) -> object:
    """Send the row's request once (HTTP 200 / gRPC OK or an error); return the first output."""
    if row.kind == "grpc":
        import grpc

        from .grpc_server import load_protos

        messages, _ = load_protos(settings)
        with grpc.insecure_channel(f"{HOST}:{server.port}") as channel:
            try:
                answer = channel.unary_unary(row.path)(row.body, timeout=30)
            except grpc.RpcError as error:
                raise RuntimeError(f"{row.name}: {error.code().name} {error.details()}") from None
        if "floor" in row.server:
            return None
        if row.rows > 1:
            scores = messages.PredictBatchResponse.FromString(answer).scores
            outputs = len(scores) // row.rows
        else:
            scores = messages.PredictResponse.FromString(answer).scores
            outputs = len(scores)
        return scores[0] if outputs == 1 else list(scores[:outputs])
    status, body = _http(server.port, "POST", row.path, row.body, row.content_type)
    if status != 200:
        raise RuntimeError(f"{row.name}: HTTP {status} {body[:300]!r}")
    if row.content_type != "application/json" or "floor" in row.server:
        return None
    answer = json.loads(body)
    answer = answer.get("prediction", answer.get("predictions"))
    if isinstance(answer, list) and answer and (row.rows > 1 or row.server == "mlflow"):
        answer = answer[0]
    return answer.get("prediction") if isinstance(answer, dict) else answer


def _short(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _in_process(data: dict) -> str:
    """Return a note: the fast predictor and the estimator timed in this process."""
    from ..training.predictor import model_output

    predictor, estimator, matrix = (
        data["bundle"]["predictor"],
        data["bundle"]["estimator"],
        data["matrix"],
    )

    def per_call_us(fn, rows) -> float:
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(50):
                fn(rows)
            timings.append((time.perf_counter() - started) / 50 * 1e6)
        return min(timings)

    fast = [
        per_call_us(predictor.predict_one, matrix[0].tolist()),
        per_call_us(predictor.predict, matrix),
    ]
    slow = [
        per_call_us(lambda x: model_output(estimator, x), rows) for rows in (matrix[:1], matrix)
    ]
    return (
        f"in process: {type(predictor).__name__} {fast[0]:.1f} us for one row, "
        f"{len(matrix) / fast[1] * 1e6:,.0f} rows/s at {len(matrix)}; estimator "
        f"{slow[0]:.1f} us for one row, {len(matrix) / slow[1] * 1e6:,.0f} rows/s"
    )


def _metrics_cost(data: dict) -> str | None:
    """Return a note: what the serving path's metrics cost per request (None: no monitoring)."""
    if find_spec(f"{PACKAGE}.monitoring.metrics") is None:
        return None
    from ..monitoring import metrics

    version, matrix = data["version"], data["matrix"]
    scores = data["bundle"]["predictor"].predict(matrix)
    answer = {"model_version": version, "variant": "control"}

    def per_call_us(fn) -> float:
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(2000):
                fn()
            timings.append((time.perf_counter() - started) / 2000 * 1e6)
        return min(timings)

    def single() -> None:
        metrics.observe_request("bench", answer, 0.001)
        metrics.observe_row(version, "control", 0.5)

    def batch() -> None:
        metrics.observe_request("bench", answer, 0.001)
        metrics.observe_batch(version, "control", scores)

    return (
        f"metrics (in process): {per_call_us(single):.1f} us per 1-row request, "
        f"{per_call_us(batch):.1f} us per {len(matrix)}-row batch (request count, latency, "
        "rows and score histogram)"
    )


def _format(rows: list[Row], notes: list[str], args: dict) -> str:
    """Return the table: one line per row, ratios to the floor and to mlflow, then the notes."""
    by_name = {row.name: row.result for row in rows}
    mlflow = next((row.result for row in rows if row.server == "mlflow"), None)
    header = (
        f"{'row':<38} {'req/s':>8} {'rows/s':>10} {'CPU us/req':>10} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'x floor':>7} {'x mlflow':>8} {'overhead us':>11} {'errors':>6}"
    )
    client = (
        "h2load (HTTP/1.1 keep-alive for REST, h2c for gRPC)"
        if args["h2load"]
        else "Python client (asyncio; grpc.aio, 1 channel)"
    )
    lines = [
        f"serving benchmark on {HOST}: one uvicorn worker (uvloop, httptools, no access log), "
        f"one grpc.aio server; load: {client}, {args['connections']} connections, 1 request in "
        f"flight on each, {args['duration']:g} s per row after {args['warmup']:g} s warm-up",
        header,
        "-" * len(header),
    ]

    def number(value, spec: str) -> str:
        width = int("".join(c for c in spec.split(",")[0].split(".")[0] if c.isdigit()))
        return f"{'-':>{width}}" if value is None else format(value, spec)

    for row in rows:
        r, floor = row.result, by_name.get(row.floor)
        ratio_floor = r["req_s"] / floor["req_s"] if floor and floor["req_s"] else None
        ratio_mlflow = r["req_s"] / mlflow["req_s"] if mlflow and mlflow["req_s"] else None
        overhead = None
        if floor and floor.get("cpu_us") is not None and r.get("cpu_us") is not None:
            overhead = r["cpu_us"] - floor["cpu_us"]
        single = row.rows == 1
        lines.append(
            f"{row.name:<38} {r['req_s']:>8,.0f} {r['rows_s']:>10,.0f} "
            f"{number(r['cpu_us'], '>10,.0f')} {number(r['p50_ms'], '>7.2f')} "
            f"{number(r['p99_ms'], '>7.2f')} {number(ratio_floor, '>7.3f')} "
            f"{number(ratio_mlflow if single and row.server != 'mlflow' else None, '>8.1f')} "
            f"{number(overhead, '>11,.0f')} "
            f"{r['errors']:>6}"
        )
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)


def run(
    settings: Settings,
    duration: float = 3.0,
    warmup: float = 0.5,
    connections: int = 16,
    verbose: bool = True,
    client: str = "auto",
    only: str = "",
    swaps: bool = True,
) -> dict:
    """Measure every row once, print the table, write ``reports/bench.json``; return a summary.

    ``client``: ``h2load``, ``python`` or ``auto`` (h2load when it is on PATH). ``only``: measure
    the rows whose name contains it (case-insensitive), with the floors they are compared with.
    ``swaps``: also measure hot swaps under load (``run_swaps``; not with ``only``).
    """
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {', '.join(CLIENTS)}, not {client!r}")
    if duration <= 0 or warmup < 0 or connections < 1:
        raise ValueError("duration must be > 0, warmup >= 0 and connections >= 1")
    h2load = h2load_path() if client != "python" else None
    if client == "h2load" and h2load is None:
        raise ValueError("h2load is not on PATH: apt install nghttp2-client, or --client python")
    data = _payloads(settings)
    rows, notes = _plan(settings, data)
    if not any("floor" not in row.server for row in rows):
        raise ValueError("nothing to benchmark: the project serves no REST or gRPC API")
    if only:
        chosen = [row for row in rows if only.lower() in row.name.lower()]
        if not chosen:
            raise ValueError(f"no row name contains {only!r}: " + "; ".join(r.name for r in rows))
        wanted = {row.name for row in chosen} | {row.floor for row in chosen}
        rows = [row for row in rows if row.name in wanted]
    env = _bench_settings_env(settings, settings.directory("bench"))
    args = {
        "warmup": warmup,
        "duration": duration,
        "connections": connections,
        "h2load": h2load,
    }
    servers: dict[str, Server] = {}
    firsts: dict[str, object] = {}
    started = time.monotonic()
    with ExitStack() as stack:
        for name in dict.fromkeys(row.server for row in rows):
            model = None
            if name == "mlflow":
                try:
                    model = _mlflow_model(settings, data, settings.directory("bench"))
                except Exception as error:  # a skipped row, not a failed benchmark
                    notes.append(f"mlflow models serve: skipped, export failed: {error}")
                    rows = [row for row in rows if row.server != "mlflow"]
                    continue
            if verbose:
                print(f"bench: starting the {name} server", file=sys.stderr, flush=True)
            command, extra = _command(name, model)
            servers[name] = _start(stack, name, command, {**env, **extra}, settings)
            ready = {"rest": "/ready", "mlflow": "/ping"}.get(name)
            if ready:
                _wait_ready(servers[name], ready, START_TIMEOUT_S[name])
        for row in rows:
            firsts[row.name] = _first_output(row, servers[row.server], settings)
            if verbose:
                print(f"bench: measuring {row.name}", file=sys.stderr, flush=True)
            row.result = _run_row(row, servers[row.server], args, settings.directory("bench"))
    elapsed = time.monotonic() - started
    answers = "; ".join(
        f"{row.name}: {_short(value)}"
        for row in rows
        if (value := firsts.get(row.name)) is not None and "floor" not in row.server
    )
    expected = f"champion v{data['version']} in process: {_short(data['expected'])}"
    notes.append(f"first row: {expected}; {answers}" if answers else f"first row: {expected}")
    notes.append(_in_process(data))
    cost = _metrics_cost(data)
    if cost:
        notes.append(cost)
    swapped = None
    if swaps and not only:
        try:
            if verbose:
                print("bench: measuring hot swaps under load", file=sys.stderr, flush=True)
            swapped = run_swaps(settings, duration, warmup, connections, client, data)
            notes.append(_swaps_line(swapped))
        except ValueError as error:
            notes.append(f"hot swaps under load: skipped, {error}")
    table = _format(rows, notes, args)
    print(table)
    path = settings.directory("reports") / "bench.json"
    results = [{"row": row.name, "rows_per_request": row.rows, **row.result} for row in rows]
    settings_used = {**args, "h2load": None, "client": "h2load" if args["h2load"] else "python"}
    report = {"args": settings_used, "rows": results, "swaps": swapped, "notes": notes}
    path.write_text(json.dumps(report, indent=2))
    summary = {"report": str(path), "rows": len(rows), "seconds": round(elapsed, 1)}
    if swapped is not None:
        summary["swaps"] = {
            key: swapped[key]
            for key in ("requests", "errors", "p99_ms", "swaps", "swap_failures", "rss_growth_mb")
        }
    return summary


def main(argv: list[str]) -> int:
    """``floor PORT`` / ``grpc-floor PORT`` serve a floor; ``load SPEC`` runs one load."""
    if len(argv) == 2 and argv[0] in ("floor", "grpc-floor"):
        (serve_floor if argv[0] == "floor" else serve_grpc_floor)(int(argv[1]))
        return 0
    if len(argv) == 2 and argv[0] == "load":
        print(json.dumps(load(json.loads(argv[1]))))
        return 0
    print(f"usage: python -m {MODULE} floor PORT | grpc-floor PORT | load SPEC", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
