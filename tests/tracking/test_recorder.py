import json
import os
import sqlite3
import threading
import time

import pytest

from app.tracking.recorder import Recorder

HTML = "<body>x</body>"


@pytest.fixture
def messages(client, auth, campaign):
    body = {"html": HTML, "recipients": [f"r{i}@x" for i in range(20)]}
    response = client.post("/api/v1/campaigns/nov-news/inject", json=body, headers=auth)
    return response.get_json()["messages"]


def spool_files(folder):
    """Return the spool files in a folder (not the ingest lease's lock files, which stay)."""
    return [name for name in os.listdir(folder) if ".spool" in name]


def pixel_path(message):
    return "/o/" + message["pixel_url"].split("/o/")[1]


def test_spool_of_a_dead_process_is_replayed_once(app, client, store, messages):
    recorder = app.extensions["opentrack"].recorder
    spool_dir = recorder.spool_dir
    os.makedirs(spool_dir, exist_ok=True)
    lines = [
        [
            f"key-{i}",
            m["message_id"],
            time.time(),
            "192.0.2.1",
            "Thunderbird/115",
            "GET",
            None,
            None,
        ]
        for i, m in enumerate(messages[:5])
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    # A crashed worker: its file has no lock holder, and its last line was cut mid-write.
    with open(os.path.join(spool_dir, "99999-dead.spool"), "w") as spool:
        spool.write(text + '["key-cut", "x", 1')
    assert recorder.replay_orphans() == 1
    assert store.count_events() == 5
    # The same lines again (a replay interrupted before the file was removed) add nothing.
    with open(os.path.join(spool_dir, "99999-again.spool"), "w") as spool:
        spool.write(text)
    recorder.replay_orphans()
    assert store.count_events() == 5
    assert spool_files(spool_dir) == []


def test_live_spool_files_are_left_alone(app, client, store, messages, tmp_path):
    import fcntl

    recorder = app.extensions["opentrack"].recorder
    os.makedirs(recorder.spool_dir, exist_ok=True)
    path = os.path.join(recorder.spool_dir, "12345-live.spool")
    line = ["k", messages[0]["message_id"], time.time(), None, "", "GET", None, None]
    with open(path, "w") as spool:
        spool.write(json.dumps(line) + "\n")
        spool.flush()
        fcntl.flock(spool, fcntl.LOCK_EX)
        assert recorder.replay_orphans() == 0
        assert os.path.exists(path)
    assert recorder.replay_orphans() == 1
    assert store.count_events() == 1


def hold_write_lock(database: str):
    """Return a connection that keeps writers to the events table waiting until rollback."""
    if database.startswith("postgresql://"):
        import psycopg

        blocker = psycopg.connect(database)
        blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        return blocker
    blocker = sqlite3.connect(database, timeout=0)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def test_locked_database_delays_but_loses_nothing(app, client, store, messages):
    recorder = app.extensions["opentrack"].recorder
    # Another process holds the write lock for a while, longer than the pixel can wait.
    blocker = hold_write_lock(app.config["DATABASE"])
    started = time.monotonic()
    for message in messages:
        assert client.get(pixel_path(message)).status_code == 200
    answered_in = time.monotonic() - started
    time.sleep(0.3)
    # Waiting on the lock would take the 30 s busy timeout per request; spooling takes none.
    assert answered_in < 10
    blocker.rollback()
    blocker.close()
    deadline = time.monotonic() + 15
    while store.count_events() < len(messages) and time.monotonic() < deadline:
        time.sleep(0.05)
    recorder.flush()
    assert store.count_events() == len(messages)


def test_failing_store_keeps_the_spool_for_later(tmp_path):
    calls = []

    def broken(batch):
        calls.append(batch)
        raise sqlite3.OperationalError("disk I/O error")

    recorder = Recorder(str(tmp_path / "spool"), broken, lambda counts: None, flush_seconds=0.01)
    recorder.append(["k1", "m1", 1.0, None, "", "GET", None, None])
    time.sleep(0.3)
    assert calls
    recorder._stopping.set()
    recorder._thread.join(5)
    stored = []
    # A new process (or the next round) stores what the broken one could not.
    successor = Recorder(str(tmp_path / "spool"), stored.extend, lambda counts: None)
    os.close(recorder._fd)
    assert successor.replay_orphans() == 1
    assert [line[0] for line in stored] == ["k1"]


def test_stop_does_not_wait_for_a_burst_to_gather(tmp_path):
    # The writer thread waits flush_seconds after a fetch for more to join its batch; stop()
    # cuts that wait short instead of timing out its join (10 s) and then storing.
    stored = []
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, lambda counts: None, 30)
    recorder.append(["k1", "m1", 1.0, None, "", "GET", None, None])
    time.sleep(0.2)  # the thread has woken for the fetch and waits for the burst
    started = time.monotonic()
    recorder.stop()
    assert time.monotonic() - started < 5
    assert not recorder._thread.is_alive()
    assert [line[0] for line in stored] == ["k1"]


def test_spool_is_emptied_once_stored_without_losing_lines(tmp_path):
    stored = []
    lock = threading.Lock()

    def store_batch(batch):
        with lock:
            stored.extend(batch)

    recorder = Recorder(str(tmp_path / "spool"), store_batch, lambda c: None, flush_seconds=0.005)
    threads = [
        threading.Thread(
            target=lambda n=n: [
                recorder.append([f"{n}-{i}", "m", 1.0, None, "x" * 20, "GET", None, None])
                for i in range(300)
            ]
        )
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.flush()
    assert os.path.getsize(recorder._path) == 0
    recorder.stop()
    keys = [line[0] for line in stored]
    assert len(keys) == 1200
    assert len(set(keys)) == 1200
    # A process that stops with nothing left to store leaves no spool file behind.
    assert spool_files(tmp_path / "spool") == []


def test_counts_are_stored_even_without_a_single_valid_fetch(tmp_path):
    counted = []
    recorder = Recorder(str(tmp_path / "spool"), lambda batch: None, counted.append)
    recorder.count("pixel_bad_token")
    recorder.count("pixel_bad_token")
    recorder.stop()
    assert sum(c["pixel_bad_token"] for c in counted) == 2


@pytest.mark.slow
def test_steady_traffic_does_not_keep_stored_lines_on_disk(tmp_path, monkeypatch):
    import app.tracking.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "ROTATE_SECONDS", 0.2)
    stored = []
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, lambda c: None, flush_seconds=0.01)
    stop = threading.Event()

    def traffic():
        n = 0
        while not stop.is_set():
            recorder.append([f"k{n}", "m", 1.0, "203.0.113.77", "UA", "GET", None, None])
            n += 1
            time.sleep(0.0005)

    sender = threading.Thread(target=traffic)
    sender.start()
    time.sleep(1.5)
    on_disk = b"".join(path.read_bytes() for path in (tmp_path / "spool").iterdir())
    stop.set()
    sender.join()
    recorder.stop()
    # The first fetches were stored long ago: their lines are gone from disk.
    assert b'"k0"' not in on_disk
    keys = [line[0] for line in stored]
    assert len(keys) == len(set(keys))
    assert keys[0] == "k0" and len(keys) == int(keys[-1][1:]) + 1


def test_a_new_spool_file_is_locked_before_others_can_see_it(tmp_path, monkeypatch):
    import fcntl

    stored = []
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, lambda c: None)
    other = Recorder(str(tmp_path / "spool"), stored.extend, lambda c: None)
    real_flock = fcntl.flock
    seen = []

    def scan_then_flock(fd, operation):
        if operation == fcntl.LOCK_EX and not seen:
            # Another process scans for dead processes' files at the worst moment: the new
            # file exists, and its owner has not locked it yet.
            monkeypatch.setattr(fcntl, "flock", real_flock)
            seen.append(other.replay_orphans())
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", scan_then_flock)
    recorder.append(["k1", "m", 1.0, None, "", "GET", None, None])
    recorder.append(["k2", "m", 1.0, None, "", "GET", None, None])
    recorder.stop()
    assert seen == [0]
    assert [line[0] for line in stored] == ["k1", "k2"]
