"""Keep every pixel fetch durably at once, and move fetches into the store in batches.

The pixel view only appends one line per fetch to this process's spool file (a few
microseconds, no lock on the database); a writer thread classifies the new lines and stores
them a batch per transaction. A spool line is removed only after its batch has committed, and
every line carries a unique key, so a crash or a locked database delays events but never loses
or doubles them: spool files left by a dead process are replayed by the next one.
"""

import fcntl
import json
import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable

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


class Recorder:
    """One process's spool of pixel fetches and the thread that stores them."""

    def __init__(
        self,
        spool_dir: str,
        store_batch: Callable[[list[list]], None],
        store_counts: Callable[[dict[str, int]], None],
        flush_seconds: float = 0.05,
    ):
        self.spool_dir = spool_dir
        self.store_batch = store_batch
        self.store_counts = store_counts
        self.counts: Counter = Counter()
        self.flush_seconds = flush_seconds
        # Held only to append a line or to empty the file: never while the store is written.
        self._lock = threading.Lock()
        # One batch at a time goes to the store, whichever thread (writer, flush) sends it.
        self._store_lock = threading.Lock()
        self._wake = threading.Event()
        self._pid = None
        self._fd = None
        self._path = None
        self._offset = 0
        self._thread = None
        self._stopping = False
        self._last_orphan_scan = 0.0
        self._opened_at = 0.0

    def append(self, facts: list) -> None:
        """Keep one fetch durably in the spool and wake the writer."""
        line = (json.dumps(facts, separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            # O_APPEND writes of one line are atomic; the kernel holds them if we crash.
            os.write(self._fd, line)
        self._wake.set()

    def count(self, name: str) -> None:
        """Count a pixel request that was answered but not recorded (a bad token, say)."""
        with self._lock:
            self.counts[name] += 1
            if self._pid != os.getpid():
                # Only to get the counts stored: counting never fails, whatever the disk does,
                # since the pixel counts its own failures here.
                try:
                    self._start()
                except OSError:
                    log.exception("could not start the spool; counts wait for the next try")

    def flush(self) -> None:
        """Store everything spooled so far, in the calling thread."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()
        self._drain()
        self.replay_orphans()
        self._store_counts()

    def stop(self) -> None:
        """Store what is left and stop the writer thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=10)
        if self._pid == os.getpid():
            try:
                self.flush()
            except Exception:
                log.exception("could not store the spool at exit; the next start replays it")
                return
            with self._lock:
                if os.fstat(self._fd).st_size == 0:
                    os.unlink(self._path)
                    os.close(self._fd)
                    self._pid = None

    def _start(self) -> None:
        # Called with the lock held, in a new process (gunicorn forks workers after import).
        os.makedirs(self.spool_dir, exist_ok=True)
        self._open_new_file()
        # Only now: should opening fail, the next append tries again instead of writing nowhere.
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="opentrack-writer", daemon=True)
        self._thread.start()

    def _open_new_file(self) -> None:
        path = os.path.join(self.spool_dir, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.spool")
        fd = os.open(path + ".new", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        # The lock tells other processes that this file has a living owner. It is taken before
        # the file gets the name they look for, so no one can take an unlocked new file for a
        # dead process's.
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(path + ".new", path)
        self._fd, self._path, self._offset = fd, path, 0
        self._opened_at = time.monotonic()

    def _run(self) -> None:
        delay = RETRY_SECONDS[0]
        while not self._stopping:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            # Let a burst gather into one transaction.
            time.sleep(self.flush_seconds)
            try:
                self._drain()
                self._store_counts()
                if time.monotonic() - self._last_orphan_scan > ORPHAN_SCAN_SECONDS:
                    self.replay_orphans()
                delay = RETRY_SECONDS[0]
            except Exception:
                # The fetches stay in the spool file; the next round tries them again.
                log.exception("could not store pixel fetches; retrying in %.1fs", delay)
                time.sleep(delay)
                delay = min(delay * 2, RETRY_SECONDS[1])

    def _drain(self) -> None:
        """Store the lines of this process's spool past the stored offset, then let them go.

        Stored lines (and the IPs in them) do not linger on disk: the file is emptied when
        everything in it is stored, and under steady traffic, where it never is, a new file is
        started every few seconds and the old one removed once stored.
        """
        with self._store_lock:
            self._offset += self._store_from(self._path, self._offset)
            # Appends wait for this lock, so nothing lands between the check and the change.
            with self._lock:
                if os.fstat(self._fd).st_size == self._offset:
                    os.ftruncate(self._fd, 0)
                    self._offset = 0
                    self._opened_at = time.monotonic()
                    return
                if (
                    self._offset < ROTATE_BYTES
                    and time.monotonic() - self._opened_at < ROTATE_SECONDS
                ):
                    return
                old_fd, old_path, old_offset = self._fd, self._path, self._offset
                self._open_new_file()
            try:
                self._store_from(old_path, old_offset)
                os.unlink(old_path)
            finally:
                # Unlocked and still there if storing failed: replayed as a dead process's.
                os.close(old_fd)

    def _store_counts(self) -> None:
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
            self.store_batch(_parse_lines(data[:end], path))
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
                _remove_if_abandoned(path)
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


def _remove_if_abandoned(path: str) -> None:
    """Remove a new spool file that its process never got to name (it died in between).

    Only an old one: a process names its new file microseconds after creating it.
    """
    try:
        if time.time() - os.stat(path).st_mtime > ABANDONED_SECONDS:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _parse_lines(data: bytes, path: str) -> list[list]:
    batch = []
    for line in data.splitlines():
        try:
            batch.append(json.loads(line))
        except ValueError:
            log.error("skipping an unreadable line in %s: %r", path, line[:200])
    return batch
