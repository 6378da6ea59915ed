"""Writers of several processes queue on one lock per SQLite file, and never wait forever."""

import multiprocessing
import subprocess
import sys
import threading
import time
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from projections.writers import writers_queue

HOLD = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_CREAT, 0o666)
fcntl.flock(fd, fcntl.LOCK_EX)
print("holding", flush=True)
time.sleep(60)
"""


def test_a_writer_gives_up_when_another_process_holds_the_lock_too_long(tmp_path):
    db = str(tmp_path / "d.sqlite")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, f"{db}.writers"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            writers_queue(db).acquire(timeout=0.3)
        assert time.monotonic() - started < 5
    finally:
        holder.kill()
        holder.wait()
    queue = writers_queue(db)
    queue.acquire(timeout=5)  # the holder is gone: the kernel freed its lock
    queue.release()


def test_a_thread_may_take_the_lock_again_and_others_wait_until_it_is_free(tmp_path):
    queue = writers_queue(str(tmp_path / "d.sqlite"))
    queue.acquire(timeout=1)
    queue.acquire(timeout=1)  # nested: never waits for itself
    queue.release()
    failures: list[BaseException] = []
    other = threading.Thread(target=try_to_write, args=(queue, failures))
    other.start()
    other.join()
    assert [type(f) for f in failures] == [OperationalError]  # still held once
    queue.release()
    other = threading.Thread(target=try_to_write, args=(queue, failures))
    other.start()
    other.join()
    assert len(failures) == 1  # free now


def try_to_write(queue, failures):
    try:
        queue.acquire(timeout=0.2)
        queue.release()
    except OperationalError as error:
        failures.append(error)


def _write_from_child(db: str, answers: Any) -> None:
    try:
        writers_queue(db).acquire(timeout=0.3)
        answers.put("took the lock")
    except OperationalError:
        answers.put("waited")


def test_a_forked_worker_queues_behind_its_parent_not_beside_it(tmp_path):
    """gunicorn forks its workers after the parent opened the database: a lock on the
    inherited open file would be held by all of them at once."""
    db = str(tmp_path / "d.sqlite")
    queue = writers_queue(db)
    queue.acquire(timeout=1)
    try:
        context = multiprocessing.get_context("fork")
        answers = context.SimpleQueue()
        child = context.Process(target=_write_from_child, args=(db, answers))
        child.start()
        child.join(timeout=10)
        assert child.exitcode == 0  # it answered (and did not hang or crash)
        assert answers.get() == "waited"
    finally:
        queue.release()
