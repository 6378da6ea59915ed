"""A real `dossier serve` on the loopback, and a small JSON client: for tests and the benchmark."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DOSSIER = [sys.executable, "-m", "scripts.cli"]


def dossier(db: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOSSIER_DB": db}
    return subprocess.run([*DOSSIER, *args], capture_output=True, text=True, env=env, check=check)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(
    base: str, method: str, path: str, token: str | None = None, body: Any = None
) -> tuple[int, Any]:
    """One JSON request; answers (status, the decoded JSON body, or the raw bytes of another)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, _decoded(response.read(), response.headers)
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error.read(), error.headers)


def _decoded(body: bytes, headers: Any) -> Any:
    if "json" in (headers.get("Content-Type") or ""):
        return json.loads(body or b"null")
    return body


@contextmanager
def running_server(db: str, workers: int = 1) -> Iterator[str]:
    """`dossier serve` on a free port of the loopback; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DOSSIER_DB": db}
    command = [*DOSSIER, "serve", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
