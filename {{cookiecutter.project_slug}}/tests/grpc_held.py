"""Test-only entry point: the project's CLI whose gRPC prediction calls can be held at a gate.

``python -m grpc_held serve ...`` (with ``tests/`` on PYTHONPATH) runs the project's own CLI,
except that a ``Predict`` or ``PredictBatch`` call carrying ``x-test-gate`` metadata prints
``held <handler>`` once it is inside the server, then waits until the file that metadata names
exists before it is answered as usual; and the server prints ``shutdown started`` once
``server.stop`` has begun refusing new calls. ``tests/test_serving_faults.py`` uses it to have
calls in flight when SIGTERM arrives without relying on timing. Nothing in the package reads it.
"""

from __future__ import annotations

import asyncio
import runpy
from pathlib import Path

import grpc
import grpc.aio

PACKAGE = "{{ cookiecutter.package_name }}"
GATE = "x-test-gate"
HELD = frozenset({"predict", "predict_batch"})  # the handlers' names in serving/grpc_server.py
_method_handler = grpc.unary_unary_rpc_method_handler
_server = grpc.aio.server


def _held(behavior):
    async def wait_at_gate(request, context):
        gate = dict(context.invocation_metadata() or ()).get(GATE)
        if gate:
            print(f"held {behavior.__name__}", flush=True)
            while not Path(gate).exists():
                await asyncio.sleep(0.01)
        return await behavior(request, context)

    return wait_at_gate


def method_handler(behavior, *args, **kwargs):
    """``grpc.unary_unary_rpc_method_handler`` whose prediction handlers wait at a gate."""
    if getattr(behavior, "__name__", "") in HELD:
        behavior = _held(behavior)
    return _method_handler(behavior, *args, **kwargs)


def server(*args, **kwargs):
    """``grpc.aio.server`` whose ``stop`` prints ``shutdown started`` once it refuses calls."""
    made = _server(*args, **kwargs)
    stop = made.stop

    async def stop_and_say(grace):
        stopping = asyncio.ensure_future(stop(grace))
        await asyncio.sleep(0)  # the stop task runs first: it starts the shutdown, then waits
        print("shutdown started", flush=True)
        return await stopping

    made.stop = stop_and_say
    return made


if __name__ == "__main__":
    grpc.unary_unary_rpc_method_handler = method_handler
    grpc.aio.server = server
    runpy.run_module(PACKAGE, run_name="__main__", alter_sys=True)
