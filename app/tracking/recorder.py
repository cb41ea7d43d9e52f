"""Keep every pixel fetch durably at once, and move fetches into the store in batches.

The pixel view only appends one line per fetch to this process's spool file (a few
microseconds, no lock on the database). While an ingester holds the folder's lease
(``opentrack ingest``, see ``lease.py``) it stores every spool file of the folder; while none
does, this process's writer thread classifies its own new lines and stores them a batch per
transaction. A spool line is removed only after its batch has committed, and every line carries
a unique key, so a crash or a locked database delays events but never loses or doubles them:
spool files left by a dead process are replayed by the ingester or the next process. When the
spool cannot be written (a full disk, an I/O error), fetches wait in a bounded queue in memory
and go to the spool as soon as it takes them again.
"""

import errno
import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from itertools import islice

import orjson

from app.tracking.lease import Lease

log = logging.getLogger(__name__)

# Under steady traffic, start a new spool file this often (or at this size), so that stored
# lines are removed from disk even when the file is never empty.
ROTATE_SECONDS = 5.0
ROTATE_BYTES = 1024 * 1024
# A new spool file still without its final name after this long was left by a dead process.
ABANDONED_SECONDS = 60.0
# Look for spool files of dead processes this often.
ORPHAN_SCAN_SECONDS = 5.0
# After a failed write to the store, wait this long before the next try (doubling, capped).
RETRY_SECONDS = (0.1, 5.0)
# Fetches kept in memory while the spool cannot be written: about 300 bytes each, so at most
# some 30 MB. Past that a fetch is answered and counted, not kept.
MEMORY_LINES = 100_000
# Lines written back to the spool in one write once it takes them again.
REWRITE_LINES = 256


class Recorder:
    """One process's spool of pixel fetches and the thread that stores them."""

    def __init__(
        self,
        spool_dir: str,
        store_batch: Callable[[list[list]], None],
        store_counts: Callable[[dict[str, int]], None],
        flush_seconds: float = 0.05,
        memory_lines: int = MEMORY_LINES,
    ):
        self.spool_dir = spool_dir
        self.store_batch = store_batch
        self.store_counts = store_counts
        self.counts: Counter = Counter()
        self.flush_seconds = flush_seconds
        self.memory_lines = memory_lines
        self.lease = Lease(spool_dir)
        # Held only to append a line or to empty the file: never while the store is written.
        self._lock = threading.Lock()
        # One batch at a time goes to the store, whichever thread (writer, flush) sends it.
        self._store_lock = threading.Lock()
        # Held while counts are on their way to the store, so that flush() returns only after
        # counts the writer thread took are stored.
        self._counts_lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None
        self._fd = None
        self._path = None
        self._offset = 0
        self._size = 0
        self._thread = None
        # Set by stop(): it also cuts short the writer thread's wait for a burst to gather.
        self._stopping = threading.Event()
        self._last_orphan_scan = 0.0
        self._opened_at = 0.0
        # Lines the spool would not take yet, oldest first, and since when (monotonic).
        self._memory: deque[bytes] = deque()
        self._degraded_since: float | None = None
        self._degraded_counted = 0.0

    def start(self) -> None:
        """Open this process's spool and start its writer thread, if not done yet."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()

    def append(self, facts: list) -> None:
        """Keep one fetch durably in the spool (in memory while it cannot be written)."""
        line = encode_line(facts)
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if self._memory or self._fd is None:
                # Behind what waits in memory, so that lines reach the spool in order.
                self._keep_in_memory(line)
            else:
                try:
                    self._write(line)
                except OSError as error:
                    self._degrade(error)
                    self._keep_in_memory(line)
        if not self._wake.is_set():
            self._wake.set()

    def count(self, name: str) -> None:
        """Count a pixel request that was answered but not recorded (a bad token, say)."""
        with self._lock:
            self.counts[name] += 1
            if self._pid != os.getpid():
                # Only to get the counts stored; starting never fails, whatever the disk does.
                self._start()

    def flush(self) -> None:
        """Store everything spooled so far, in the calling thread."""
        self.start()
        self._write_memory()
        self._drain()
        self.replay_orphans()
        self._store_counts()

    def stop(self) -> None:
        """Store what is left (or leave it to the ingester) and stop the writer thread."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._pid != os.getpid():
            return
        self._write_memory()
        if self._memory:
            log.error(
                "the spool still cannot be written: %d fetches kept in memory are lost at exit",
                len(self._memory),
            )
        try:
            if self.lease.held_elsewhere():
                # The ingester stores the file once its lock is gone with this process.
                self._store_counts()
                self._close()
                return
            self.flush()
        except Exception:
            log.exception("could not store the spool at exit; the next start replays it")
            return
        with self._lock:
            if self._fd is not None and os.fstat(self._fd).st_size == 0:
                os.unlink(self._path)
                self._close_file()

    def _close(self) -> None:
        with self._lock:
            self._close_file()

    def _close_file(self) -> None:
        # Called with the lock held.
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._pid = None, None

    def _start(self) -> None:
        # Called with the lock held, in a new process (gunicorn forks workers after import).
        self._pid = os.getpid()
        # What a parent process kept in memory is its own to write.
        self._memory.clear()
        self._fd, self._degraded_since = None, None
        try:
            self._open_new_file()
        except OSError as error:
            # The writer thread opens it as soon as the disk lets it; fetches wait in memory.
            self._degrade(error)
        self._thread = threading.Thread(target=self._run, name="opentrack-writer", daemon=True)
        self._thread.start()

    def _open_new_file(self) -> None:
        os.makedirs(self.spool_dir, exist_ok=True)
        path = os.path.join(self.spool_dir, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.spool")
        fd = os.open(path + ".new", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        # The lock tells other processes that this file has a living owner. It is taken before
        # the file gets the name they look for, so no one can take an unlocked new file for a
        # dead process's.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(path + ".new", path)
        self._fd, self._path, self._offset, self._size = fd, path, 0, 0
        self._opened_at = time.monotonic()

    def _write(self, data: bytes) -> None:
        """Append whole lines to the spool file, or raise OSError having appended nothing."""
        written = os.write(self._fd, data)
        if written != len(data):
            # The disk filled mid-line: cut the part off, so that the next line starts whole.
            os.ftruncate(self._fd, self._size)
            raise OSError(errno.ENOSPC, "short write to the spool", self._path)
        self._size += written

    def _keep_in_memory(self, line: bytes) -> None:
        if len(self._memory) >= self.memory_lines:
            self.counts["spool_memory_dropped"] += 1
            if self.counts["spool_memory_dropped"] == 1:
                log.error(
                    "the spool is still unwritable and %d fetches wait in memory: "
                    "further fetches are answered but not kept",
                    len(self._memory),
                )
            return
        self._memory.append(line)

    def _degrade(self, error: OSError) -> None:
        # Called with the lock held.
        self.counts["spool_write_errors"] += 1
        if self._degraded_since is None:
            self._degraded_since = self._degraded_counted = time.monotonic()
            log.error(
                "the spool in %s cannot be written (%s): keeping fetches in memory (at most "
                "%d) until it can; a crash meanwhile loses them",
                self.spool_dir,
                error,
                self.memory_lines,
            )

    def _write_memory(self) -> None:
        """Move the fetches kept in memory to the spool, as far as it takes them."""
        with self._lock:
            if self._pid != os.getpid() or self._degraded_since is None:
                return
            now = time.monotonic()
            # The degraded time is counted as it passes, so it shows while it lasts.
            self.counts["spool_degraded_ms"] += round((now - self._degraded_counted) * 1000)
            self._degraded_counted = now
            try:
                if self._fd is None:
                    self._open_new_file()
                while self._memory:
                    chunk = list(islice(self._memory, REWRITE_LINES))
                    self._write(b"".join(chunk))
                    for _ in chunk:
                        self._memory.popleft()
            except OSError:
                self.counts["spool_write_errors"] += 1
                return
            log.warning(
                "the spool in %s is writable again after %.1f s; the fetches kept in memory "
                "are spooled",
                self.spool_dir,
                now - self._degraded_since,
            )
            self._degraded_since = None

    def _run(self) -> None:
        delay = RETRY_SECONDS[0]
        while not self._stopping.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            # Let a burst gather into one transaction (unless stop() is waiting for this thread).
            self._stopping.wait(self.flush_seconds)
            try:
                self._write_memory()
                with self.lease.unheld() as alone:
                    if alone:
                        self._drain()
                        if time.monotonic() - self._last_orphan_scan > ORPHAN_SCAN_SECONDS:
                            self.replay_orphans()
                    else:
                        self._rotate_if_due()
                self._store_counts()
                delay = RETRY_SECONDS[0]
            except Exception:
                # The fetches stay in the spool file; the next round tries them again.
                log.exception("could not store pixel fetches; retrying in %.1fs", delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, RETRY_SECONDS[1])

    def _rotate_if_due(self) -> None:
        """Start a new spool file now and then, leaving the old one to the ingester.

        The ingester stores and removes a file once no process holds its lock, so stored lines
        (and the IPs in them) do not linger on disk under steady traffic.
        """
        with self._lock:
            if self._fd is None or self._size == 0 or self._memory:
                return
            if self._size < ROTATE_BYTES and time.monotonic() - self._opened_at < ROTATE_SECONDS:
                return
            old_fd = self._fd
            try:
                self._open_new_file()
            except OSError as error:
                self._degrade(error)
                return
            os.close(old_fd)

    def _drain(self) -> None:
        """Store the lines of this process's spool past the stored offset, then let them go.

        Stored lines (and the IPs in them) do not linger on disk: the file is emptied when
        everything in it is stored, and under steady traffic, where it never is, a new file is
        started every few seconds and the old one removed once stored.
        """
        with self._store_lock:
            if self._fd is None:
                return
            self._offset += self._store_from(self._path, self._offset)
            # Appends wait for this lock, so nothing lands between the check and the change.
            with self._lock:
                if self._size == self._offset:
                    os.ftruncate(self._fd, 0)
                    self._offset = self._size = 0
                    self._opened_at = time.monotonic()
                    return
                if (
                    self._offset < ROTATE_BYTES
                    and time.monotonic() - self._opened_at < ROTATE_SECONDS
                ) or self._memory:
                    return
                old_fd, old_path, old_offset = self._fd, self._path, self._offset
                try:
                    self._open_new_file()
                except OSError as error:
                    self._degrade(error)
                    return
            try:
                self._store_from(old_path, old_offset)
                os.unlink(old_path)
            finally:
                # Unlocked and still there if storing failed: replayed as a dead process's.
                os.close(old_fd)

    def _store_counts(self) -> None:
        with self._counts_lock:
            with self._lock:
                counts, self.counts = self.counts, Counter()
            if counts:
                try:
                    self.store_counts(dict(counts))
                except Exception:
                    with self._lock:
                        self.counts.update(counts)
                    raise

    def _store_from(self, path: str, offset: int) -> int:
        """Store the whole lines of a spool file past offset; return the bytes consumed."""
        with open(path, "rb") as spool:
            spool.seek(offset)
            data = spool.read()
        end = data.rfind(b"\n") + 1
        if end:
            self.store_batch(parse_lines(data[:end], path))
        return end

    def replay_orphans(self) -> int:
        """Store and remove spool files whose process is gone; return how many."""
        with self._store_lock:
            return self._replay_orphans()

    def _replay_orphans(self) -> int:
        self._last_orphan_scan = time.monotonic()
        replayed = 0
        try:
            names = sorted(os.listdir(self.spool_dir))
        except FileNotFoundError:
            return 0
        for name in names:
            path = os.path.join(self.spool_dir, name)
            if name.endswith(".spool.new"):
                remove_if_abandoned(path)
            if not name.endswith(".spool") or path == self._path:
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            try:
                # A line cut short by a crash mid-write was never answered with a pixel.
                self._store_from(path, 0)
                os.unlink(path)
                replayed += 1
            finally:
                os.close(fd)
        return replayed


def remove_if_abandoned(path: str) -> None:
    """Remove a new spool file that its process never got to name (it died in between).

    Only an old one: a process names its new file microseconds after creating it.
    """
    try:
        if time.time() - os.stat(path).st_mtime > ABANDONED_SECONDS:
            os.unlink(path)
    except FileNotFoundError:
        pass


def encode_line(facts: list) -> bytes:
    """Return the bytes of one spool line: compact JSON and a newline."""
    try:
        return orjson.dumps(facts, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        # What orjson refuses (a lone surrogate, an int past 64 bits) the standard library takes.
        return (json.dumps(facts, separators=(",", ":")) + "\n").encode()


def parse_lines(data: bytes, path: str) -> list[list]:
    """Return the spool lines of whole-line bytes read from path, skipping unreadable ones."""
    batch = []
    for line in data.splitlines():
        try:
            batch.append(orjson.loads(line))
        except ValueError:
            log.error("skipping an unreadable line in %s: %r", path, line[:200])
    return batch
