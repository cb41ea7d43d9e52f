"""The host's ingester: the single writer that stores every spool file of a spool folder.

Run as ``opentrack ingest`` beside the web server, one per spool folder (one per host or
instance). Holding the folder's lease (``lease.py``), it reads the new whole lines of every
spool file (the live files of web workers, which then only append, and the files of dead or
rotated-away processes), classifies and stores them in one batch per round, and removes a file
once no process holds it and all of it is stored. Offsets move only after a batch has
committed, and every line carries a unique key: a killed ingester's successor (or the web
workers, once the lease is free) starts each file from its beginning again and stores nothing
twice. Because it sees every fetch of its host, bursts are counted across all web workers.
"""

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.tracking.lease import Lease
from app.tracking.recorder import RETRY_SECONDS, parse_lines, remove_if_abandoned

log = logging.getLogger(__name__)

# An idle round waits this long before looking again: a fetch is stored within about this.
POLL_SECONDS = 0.02
# After a round that stored something, wait this long before the next, so that under load a
# batch gathers what half a second brings instead of the few lines that came in while the last
# one was stored: a message's row, its recipient's engagement row and the commit are paid once
# a batch however many of its fetches they take. Measured with scripts/bench_pixel.py: 0.5 s
# (a thousand or more fetches a batch) took the ingester's CPU per fetch down by a fifth to a
# quarter against 0.1 s; a fetch is stored within about a second under load.
GATHER_SECONDS = 0.5
# At most this much is read a round, shared among the files that have new lines, so that a
# batch (one transaction, holding SQLite's write lock) stays bounded: about 3,000 fetches,
# a few tenths of a second, also when the ingester works through a backlog it let build up
# while it yielded the CPU to the web workers. Past a few thousand a batch, a fetch costs no
# less to store (scripts/bench_writer.py --batch).
ROUND_BYTES = 1024 * 1024
# Each file gets at least this much of a round, however many files there are: many whole
# lines, as a spool line is at most a few KiB (spool.MAX_USER_AGENT and MAX_HEADER cut it).
FILE_BYTES = 64 * 1024


@dataclass
class SpoolFile:
    """What the ingester knows of one spool file: its descriptor and the bytes stored."""

    fd: int
    offset: int = 0
    # No process holds its lock any more: its owner died or moved on to a new file.
    finished: bool = False


class Ingester:
    """Drain every spool file of a folder into the store while holding the folder's lease."""

    def __init__(
        self,
        spool_dir: str,
        store_batch: Callable[[list[list]], None],
        poll_seconds: float = POLL_SECONDS,
        gather_seconds: float = GATHER_SECONDS,
    ):
        self.spool_dir = spool_dir
        self.store_batch = store_batch
        self.poll_seconds = poll_seconds
        self.gather_seconds = gather_seconds
        # Whether the last round left whole lines unread (a file's READ_BYTES cap was hit).
        self.behind = False
        self.lease = Lease(spool_dir)
        self.files: dict[str, SpoolFile] = {}
        self.stored = 0
        self.rounds = 0

    def run(self, stop: threading.Event, ready: Callable[[], None] | None = None) -> None:
        """Take the lease, then store spooled lines until stop is set and nothing is left."""
        if not self.lease.acquire(stop):
            return
        if ready:
            ready()
        delay = RETRY_SECONDS[0]
        try:
            while not stop.is_set():
                try:
                    busy = self.run_once()
                    delay = RETRY_SECONDS[0]
                except Exception:
                    # The lines stay in their files and offsets did not move: tried again.
                    log.exception("could not store spooled fetches; retrying in %.1fs", delay)
                    stop.wait(delay)
                    delay = min(delay * 2, RETRY_SECONDS[1])
                    continue
                if not busy:
                    stop.wait(self.poll_seconds)
                elif not self.behind:
                    stop.wait(self.gather_seconds)
            # What the web workers spooled up to now is stored before the lease goes.
            try:
                while self.run_once():
                    pass
            except Exception:
                log.exception("could not store the spools at exit; the next ingester will")
        finally:
            self.close()

    def run_once(self) -> int:
        """Store the new whole lines of every spool file in one batch; return how many."""
        try:
            names = set(os.listdir(self.spool_dir))
        except FileNotFoundError:
            return 0
        for name in set(self.files) - names:
            # Removed by someone else (a web worker that stored it before we held the lease).
            os.close(self.files.pop(name).fd)
        batch, moves = [], []
        self.behind = False
        spools = []
        for name in sorted(names):
            path = os.path.join(self.spool_dir, name)
            if name.endswith(".spool.new"):
                remove_if_abandoned(path)
            elif name.endswith(".spool") and (spool := self._open(name, path)) is not None:
                spools.append((name, path, spool))
        share = max(FILE_BYTES, ROUND_BYTES // max(1, len(spools)))
        for name, path, spool in spools:
            if not spool.finished:
                try:
                    fcntl.flock(spool.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    spool.finished = True
                except BlockingIOError:
                    pass
            # Read after the lock test: a finished file's last lines are all there by now.
            data = os.pread(spool.fd, share, spool.offset)
            end = data.rfind(b"\n") + 1
            if end:
                batch += parse_lines(data[:end], path)
            done = spool.finished and len(data) < share
            self.behind = self.behind or len(data) == share
            moves.append((name, path, spool, end, done))
        if batch:
            self.store_batch(batch)
            self.stored += len(batch)
            self.rounds += 1
        for name, path, spool, end, done in moves:
            spool.offset += end
            if done:
                # All of it is stored (past the last newline, only a line cut by a crash).
                os.unlink(path)
                os.close(spool.fd)
                del self.files[name]
        return len(batch)

    def _open(self, name: str, path: str) -> SpoolFile | None:
        spool = self.files.get(name)
        if spool is not None:
            return spool
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return None
        spool = self.files[name] = SpoolFile(fd)
        return spool

    def backlog_bytes(self) -> int:
        """Return how many spooled bytes are not stored yet, as far as this ingester knows."""
        total = 0
        for spool in self.files.values():
            try:
                total += os.fstat(spool.fd).st_size - spool.offset
            except OSError:
                continue
        return total

    def close(self) -> None:
        """Close every spool file and give the lease up."""
        for spool in self.files.values():
            os.close(spool.fd)
        self.files.clear()
        self.lease.release()


def drain_once(ingester: Ingester, stop: threading.Event, wait_seconds: float) -> int:
    """Take the lease (waiting up to wait_seconds), store everything spooled; return how many."""
    timer = threading.Timer(wait_seconds, stop.set)
    timer.start()
    try:
        if not ingester.lease.acquire(stop):
            raise TimeoutError(f"another ingester holds the lease of {ingester.spool_dir}")
    finally:
        timer.cancel()
    started, total = time.monotonic(), 0
    try:
        while stored := ingester.run_once():
            total += stored
        log.info("stored %d spooled fetches in %.1f s", total, time.monotonic() - started)
    finally:
        ingester.close()
    return total
