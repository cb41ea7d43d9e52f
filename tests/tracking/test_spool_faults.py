"""A spool that cannot be written (a full disk, an I/O error): fetches wait in memory."""

import errno
import json
import logging
import os

import pytest

import app.tracking.recorder as recorder_module
from app.tracking.recorder import Recorder


def line(key):
    return [key, "m", 1.0, "192.0.2.1", "Thunderbird/115", "GET", None, None]


class Disk:
    """os.write as the recorder sees it, failing with errno while full."""

    def __init__(self, monkeypatch, error=errno.ENOSPC):
        self.full, self.error, self.real = False, error, os.write
        monkeypatch.setattr(recorder_module.os, "write", self.write)

    def write(self, fd, data):
        if self.full:
            raise OSError(self.error, os.strerror(self.error))
        return self.real(fd, data)


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO])
def test_fetches_wait_in_memory_while_the_spool_cannot_be_written(
    tmp_path, monkeypatch, caplog, error
):
    disk = Disk(monkeypatch, error)
    stored, counted = [], []
    # A long flush interval: the test moves things along itself.
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, counted.append, flush_seconds=60)
    recorder.append(line("before"))
    disk.full = True
    with caplog.at_level(logging.ERROR, logger="app.tracking.recorder"):
        for n in range(500):
            recorder.append(line(f"full-{n}"))
    assert "cannot be written" in caplog.text
    recorder.flush()
    # Only what reached the disk is stored while it is full; the rest waits in memory.
    assert [entry[0] for entry in stored] == ["before"]
    disk.full = False
    recorder.append(line("after"))
    recorder.flush()
    assert [entry[0] for entry in stored] == [
        "before",
        *(f"full-{n}" for n in range(500)),
        "after",
    ]
    recorder.stop()
    metrics = {}
    for counts in counted:
        for name, amount in counts.items():
            metrics[name] = metrics.get(name, 0) + amount
    assert metrics["spool_write_errors"] >= 1
    assert "spool_degraded_ms" in metrics


def test_a_short_write_leaves_no_cut_line(tmp_path, monkeypatch):
    real = os.write
    cut = []

    def short_once(fd, data):
        if not cut:
            cut.append(data)
            return real(fd, data[:10])  # the disk filled mid-line
        return real(fd, data)

    monkeypatch.setattr(recorder_module.os, "write", short_once)
    stored = []
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, lambda counts: None, 60)
    recorder.append(line("k1"))
    recorder.append(line("k2"))
    recorder.flush()
    assert [entry[0] for entry in stored] == ["k1", "k2"]
    recorder.stop()


def test_the_memory_queue_is_bounded_and_counts_what_it_drops(tmp_path, monkeypatch):
    disk = Disk(monkeypatch)
    counted = []
    recorder = Recorder(
        str(tmp_path / "spool"), lambda batch: None, counted.append, 60, memory_lines=10
    )
    disk.full = True
    for n in range(15):
        recorder.append(line(f"k{n}"))
    assert len(recorder._memory) == 10
    assert recorder.counts["spool_memory_dropped"] == 5
    disk.full = False
    recorder.stop()
    assert sum(c.get("spool_memory_dropped", 0) for c in counted) == 5


def test_a_spool_folder_that_cannot_be_created_yet(tmp_path, monkeypatch):
    real_open = os.open
    broken = [True]

    def open_or_fail(path, *args, **kwargs):
        if broken[0] and str(path).endswith(".spool.new"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(recorder_module.os, "open", open_or_fail)
    stored = []
    recorder = Recorder(str(tmp_path / "spool"), stored.extend, lambda counts: None, 60)
    recorder.append(line("k1"))
    assert recorder._fd is None and len(recorder._memory) == 1
    broken[0] = False
    recorder.flush()
    assert [entry[0] for entry in stored] == ["k1"]
    with open(recorder._path) as file:
        assert file.read() == ""
    recorder.stop()
    assert json.dumps(line("k1"))
