"""The ingester as the single writer of a spool folder, and the web workers around its lease."""

import json
import os
import threading
import time

import pytest

from app.tracking.ingest import ROUND_BYTES, Ingester, drain_once
from app.tracking.lease import Lease
from app.tracking.recorder import Recorder


def line(key):
    return [key, "m", 1.0, "192.0.2.1", "Thunderbird/115", "GET", None, None]


def keys(batches):
    return [entry[0] for entry in batches]


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_the_ingester_stores_live_and_dead_spools_and_web_workers_stand_back(tmp_path):
    spool = str(tmp_path / "spool")
    by_worker, by_ingester = [], []
    ingester = Ingester(spool, by_ingester.extend, poll_seconds=0.005)
    stop = threading.Event()
    holding = threading.Event()
    thread = threading.Thread(target=ingester.run, args=(stop, holding.set), daemon=True)
    thread.start()
    worker = None
    try:
        assert holding.wait(5)
        # A dead process's spool, its last line cut mid-write. It is written whole under
        # another name first, as a dead process's file is: a file created empty under its own
        # name could be taken for a finished, empty spool and removed before it is written.
        os.makedirs(spool, exist_ok=True)
        dead = os.path.join(spool, "99999-dead.spool")
        with open(dead + ".tmp", "w") as file:
            file.write(json.dumps(line("dead-1")) + "\n" + '["cut", "m", 1')
        os.rename(dead + ".tmp", dead)
        worker = Recorder(spool, by_worker.extend, lambda counts: None, flush_seconds=0.005)
        for n in range(50):
            worker.append(line(f"live-{n}"))
        assert wait_until(lambda: len(by_ingester) == 51), sorted(keys(by_ingester))
        time.sleep(0.1)
        # The web worker only appended: the ingester holds the lease and stores for the host.
        assert by_worker == []
        assert sorted(keys(by_ingester)) == sorted(["dead-1", *(f"live-{n}" for n in range(50))])
        assert not os.path.exists(dead)
        # A web worker that stops leaves its file to the ingester, which removes it once stored.
        worker.append(line("last"))
        worker.stop()
        worker = None
        assert wait_until(lambda: "last" in keys(by_ingester))
        assert wait_until(lambda: not [n for n in os.listdir(spool) if n.endswith(".spool")])
    finally:
        # Stopped whatever happened above: a thread left running would keep pytest from exiting.
        if worker is not None:
            worker.stop()
        stop.set()
        thread.join(5)
    assert by_worker == []
    assert len(keys(by_ingester)) == len(set(keys(by_ingester))) == 52


def test_without_an_ingester_web_workers_store_their_own_spools(tmp_path):
    spool = str(tmp_path / "spool")
    stored = []
    worker = Recorder(spool, stored.extend, lambda counts: None, flush_seconds=0.005)
    worker.append(line("k1"))
    assert wait_until(lambda: keys(stored) == ["k1"])
    worker.stop()


def test_a_killed_ingester_delays_and_loses_nothing(tmp_path):
    spool = str(tmp_path / "spool")
    stored = []
    failing = threading.Event()

    def store_batch(batch):
        if failing.is_set():
            raise OSError("the database is gone")
        stored.extend(batch)

    # An ingester that took the lease and died before storing: its lock files are closed.
    dead = Lease(spool)
    assert dead.acquire(threading.Event())
    worker = Recorder(spool, stored.extend, lambda counts: None, flush_seconds=0.005)
    worker.append(line("k1"))
    time.sleep(0.2)
    assert stored == []
    dead.release()
    # The lease is free: the web worker stores its own spool again.
    assert wait_until(lambda: keys(stored) == ["k1"])
    # An ingester whose store fails keeps the lines for its next round.
    ingester = Ingester(spool, store_batch)
    failing.set()
    assert ingester.lease.acquire(threading.Event())
    worker.append(line("k2"))
    with pytest.raises(OSError):
        ingester.run_once()
    failing.clear()
    ingester.run_once()
    ingester.close()
    worker.stop()
    assert sorted(set(keys(stored))) == ["k1", "k2"]


def test_drain_once_refuses_when_another_ingester_holds_the_lease(tmp_path):
    spool = str(tmp_path / "spool")
    holder = Lease(spool)
    assert holder.acquire(threading.Event())
    try:
        drain_once(Ingester(spool, lambda batch: None), threading.Event(), 0.2)
    except TimeoutError as error:
        assert "another ingester" in str(error)
    else:
        raise AssertionError("drain_once ran beside another ingester")
    holder.release()
    assert drain_once(Ingester(spool, lambda batch: None), threading.Event(), 1) == 0


def test_a_backlog_is_stored_in_bounded_batches_sharing_each_round_among_files(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    # Three dead processes' files, together several rounds' worth of lines.
    text = {f"9999{n}-dead.spool": "" for n in range(3)}
    for n in range(30_000):
        text[f"9999{n % 3}-dead.spool"] += json.dumps(line(f"k{n}")) + "\n"
    for name, lines in text.items():
        (spool / name).write_text(lines)
    batches = []
    ingester = Ingester(str(spool), batches.append)
    while ingester.run_once():
        pass
    ingester.close()
    assert sorted(keys(sum(batches, []))) == sorted(f"k{n}" for n in range(30_000))
    assert len(batches) > 1
    # No batch is larger than a round's bytes; every file has its share of each round.
    shortest = len(json.dumps(line("k0"))) + 1
    assert max(map(len, batches)) <= ROUND_BYTES // shortest
    assert {int(entry[0][1:]) % 3 for entry in batches[0]} == {0, 1, 2}
    assert not list(spool.glob("*.spool"))
