"""``serve --workers N``: N server processes, each with its own listening socket.

uvicorn's own ``--workers`` shares one listening socket between its processes; with
keep-alive clients (wrk, the SDK's connection pool) whichever process woke first accepted
a whole burst of connections and kept them, so a second worker often sat idle (one of two
wrk runs used one core of two). Here every worker binds the port itself with
``SO_REUSEPORT`` and the kernel spreads new connections over the workers by hash.

The parent only supervises: it starts the workers, forwards SIGINT/SIGTERM, and exits
when they have (with the first failing worker's status, if any).
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
import sys
from typing import Any

import uvicorn


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, options: dict[str, Any]) -> None:
    """One process: its own socket, an app built from the environment (settings)."""
    sock = listen(host, port)
    config = uvicorn.Config(
        "sessionbox.api.app:create_app", factory=True, host=host, port=port, **options
    )
    uvicorn.Server(config).run(sockets=[sock])


def run(host: str, port: int, workers: int, options: dict[str, Any]) -> None:
    """Run ``workers`` processes until a signal (or one of them exits)."""
    listen(host, port).close()  # a taken port fails here, once, with a clear error
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_worker, args=(host, port, options), name=f"sessionbox-{n}")
        for n in range(workers)
    ]
    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.is_alive() and process.pid is not None:
                process.terminate()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for process in processes:
            process.start()
        status = 0
        while any(p.is_alive() for p in processes):
            for process in processes:
                process.join(0.2)
                if not process.is_alive() and process.exitcode and not stopping:
                    status = status or process.exitcode
                    stop(signal.SIGTERM, None)  # one worker died: stop, as uvicorn would
        for process in processes:
            process.join(30)
            if process.is_alive():
                process.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if status:
        sys.exit(status)
