"""`dossier serve --workers N`: several server processes and one read-model follower."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from projections.runtime import open_services
from scripts.loopback import DOSSIER, call, free_port, running_server

PUPIL = {"name": "Sanne", "sector": "vmbo", "grade": 3, "school_year": "2024-2025"}
EXPERIENCE = {
    "kind": "stage",
    "title": "Stagedag bij de garage",
    "occurred_on": "2025-03-01",
    "story": "Ik hielp de monteur en werkte goed samen.",
    "emotion": "positive",
}
WRITES = 15
HELD_UP_SECONDS = 5


def counsellor_token(db: str) -> str:
    services = open_services(db)
    try:
        services.accounts.add_school("SCH1", "Het Loopbaan College")
        return services.accounts.add_user("SCH1", "counsellor", "Decaan")[1]
    finally:
        services.close()


def lag(db: str) -> int:
    """How far the slowest read model is behind the log, without catching up."""
    services = open_services(db)
    try:
        return max(status.lag for status in services.follower.status())
    finally:
        services.close()


def test_several_server_processes_keep_every_write_and_show_it(db_url):
    token = counsellor_token(db_url)
    with running_server(db_url, workers=2) as base:
        pupils = [call(base, "POST", "/api/v1/pupils", token, PUPIL)[1]["id"] for _ in range(4)]

        def write(pupil: str) -> list[int]:
            path = f"/api/v1/pupils/{pupil}/experiences"
            return [call(base, "POST", path, token, EXPERIENCE)[0] for _ in range(WRITES)]

        with ThreadPoolExecutor(max_workers=4) as pool:
            statuses = [s for found in pool.map(write, pupils) for s in found]
        assert statuses == [201] * (4 * WRITES)
        for pupil in pupils:
            status, page = call(base, "GET", f"/api/v1/pupils/{pupil}/timeline?limit=100", token)
            assert status == 200
            assert [e["type"] for e in page["items"]].count("experience") == WRITES


def test_the_follower_process_keeps_read_models_caught_up_without_any_read(db_url):
    token = counsellor_token(db_url)
    with running_server(db_url, workers=2) as base:
        pupil = call(base, "POST", "/api/v1/pupils", token, PUPIL)[1]["id"]
        for _ in range(5):
            assert (
                call(base, "POST", f"/api/v1/pupils/{pupil}/experiences", token, EXPERIENCE)[0]
                == 201
            )
        wait_for(lambda: lag(db_url) == 0, seconds=20)
        assert lag(db_url) == 0


def follower_processes(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"follow" in command and f"{parent}".encode() in command:
            found.append(int(entry.name))
    return found


def worker_processes(parent: int) -> list[int]:
    """The server processes `parent` started (its follower aside)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = _stat(entry)
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if int(fields[1]) == parent and b"serve" in command:
            found.append(int(entry.name))
    return found


def two_workers(server: subprocess.Popen[bytes]) -> list[int]:
    """Wait until the server runs its two worker processes; their ids (empty if not)."""
    found = wait_for(lambda: len(worker_processes(server.pid)) == 2)
    return worker_processes(server.pid) if found else []


def _stat(process: Path) -> list[str]:
    """/proc/<pid>/stat after the command name: state, parent id, …"""
    return (process / "stat").read_text().rsplit(")", 1)[1].split()


def _alive(pid: int) -> bool:
    try:
        state = _stat(Path(f"/proc/{pid}"))[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


def db_file(tmp_path: Path) -> str:
    return str(tmp_path / "d.sqlite")


@contextmanager
def serving_with_workers(
    tmp_path: Path, port: int = 0, **variables: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`dossier serve --workers 2` on its own SQLite file, with these environment
    variables besides; stopped afterwards if still running."""
    env = {**os.environ, "DOSSIER_DB": db_file(tmp_path), **variables}
    command = [*DOSSIER, "serve", "--port", str(port or free_port()), "--workers", "2"]
    server = subprocess.Popen(command, env=env)
    try:
        yield server
    finally:
        if server.poll() is None:
            server.terminate()
        server.wait(timeout=30)


def test_the_follower_process_ends_with_the_server_even_when_it_is_killed(tmp_path):
    with serving_with_workers(tmp_path) as server:
        try:
            assert wait_for(lambda: follower_processes(server.pid))
        finally:
            server.kill()  # no chance to stop the follower itself: it must notice
    wait_for(lambda: not follower_processes(server.pid), seconds=10)
    assert follower_processes(server.pid) == []


def test_a_follower_process_that_dies_is_started_again(tmp_path):
    with serving_with_workers(tmp_path) as server:
        first = wait_for(lambda: follower_processes(server.pid))
        os.kill(first[0], signal.SIGKILL)
        again = wait_for(lambda: [p for p in follower_processes(server.pid) if p not in first])
        assert again


def test_a_server_process_that_dies_is_started_again(tmp_path):
    port = free_port()
    with serving_with_workers(tmp_path, port) as server:
        first = two_workers(server)
        assert first, "the server did not start two workers"
        for dying in first:  # one after the other, so that only new ones are left
            os.kill(dying, signal.SIGKILL)
            wait_for(lambda d=dying: d not in worker_processes(server.pid))
            assert wait_for(lambda: len(worker_processes(server.pid)) == 2)
        assert set(worker_processes(server.pid)).isdisjoint(first)
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(base))  # a new worker is ready
        assert call(base, "GET", "/healthz")[0] == 200


def test_server_processes_end_with_a_killed_server(tmp_path):
    """Killed, the server cannot stop its workers: they must end themselves, not go on
    answering on the port beside a server started again."""
    with serving_with_workers(tmp_path) as server:
        workers = two_workers(server)
        assert workers, "the server did not start two workers"
        server.kill()
    wait_for(lambda: not any(_alive(pid) for pid in workers), seconds=10)
    assert not [pid for pid in workers if _alive(pid)]


def test_the_server_environment_is_not_read_as_part_of_a_request(tmp_path):
    """The server's environment goes into every request's environ unless taken out: a
    token set as HTTP_AUTHORIZATION for the server must not sign in a request without one."""
    token = counsellor_token(db_file(tmp_path))
    port = free_port()
    with serving_with_workers(tmp_path, port, HTTP_AUTHORIZATION=f"Bearer {token}"):
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(base))
        assert call(base, "GET", "/api/v1/me")[0] == 401
        assert call(base, "GET", "/api/v1/me", token)[0] == 200


def test_clients_still_sending_do_not_hold_up_the_others(tmp_path):
    """Eight clients that sent half a request (more than server processes and their
    threads together) leave the server free to answer others; each still gets its
    answer once it has sent the rest."""
    port = free_port()
    body = json.dumps(PUPIL).encode()
    head = (
        f"POST /api/v1/pupils HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with serving_with_workers(tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: _answers(base))
        slow = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(8)]
        try:
            for connection in slow:
                connection.sendall(head + body[:5])
            # Answered at once (sync workers, each reading a half request, answered after
            # ~7 s here); the bound is only there so that a held-up server fails the test.
            with urllib.request.urlopen(base + "/healthz", timeout=HELD_UP_SECONDS) as answer:
                assert answer.status == 200
            for connection in slow:
                connection.sendall(body[5:])
                assert connection.recv(64).startswith(b"HTTP/1.1 401 ")  # no token sent
        finally:
            for connection in slow:
                connection.close()


def _answers(base: str) -> bool:
    try:
        return call(base, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def wait_for(found, seconds: float = 30):
    """Poll `found()` until it gives something truthy or time runs out; its last answer."""
    deadline = time.monotonic() + seconds
    while not (result := found()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return result
