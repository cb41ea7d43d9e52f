"""The ingest lease: which process of a host stores the spools of its spool folder.

One ``opentrack ingest`` per spool folder holds the lease and is the single writer of every
spool file in it. While no ingester holds it, each web worker stores its own spool. Two lock
files make the hand-over safe: an ingester first claims (so that no web worker starts a new
round of storing), then waits on the lease for the rounds in progress to end. The locks are
``flock`` locks, so a killed ingester's lease is free the moment it dies: a missing ingester
delays storing by one round and never loses a fetch.
"""

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CLAIM_FILE = "ingest.claim"
LEASE_FILE = "ingest.lease"


class Lease:
    """The ingest lease of one spool folder, seen from one process."""

    def __init__(self, spool_dir: str):
        self.spool_dir = spool_dir
        self._pid = None
        self._fds: tuple[int, int] | None = None

    def _files(self) -> tuple[int, int]:
        # A forked process shares its parent's open files, and with them its flock locks.
        if self._pid != os.getpid() or self._fds is None:
            os.makedirs(self.spool_dir, exist_ok=True)
            self._fds = tuple(
                os.open(os.path.join(self.spool_dir, name), os.O_RDWR | os.O_CREAT, 0o600)
                for name in (CLAIM_FILE, LEASE_FILE)
            )
            self._pid = os.getpid()
        return self._fds

    @contextmanager
    def unheld(self) -> Iterator[bool]:
        """Yield whether no ingester holds or claims the lease, keeping one from taking it."""
        claim, lease = self._files()
        if not _try(claim, fcntl.LOCK_SH):
            yield False
            return
        try:
            got_lease = _try(lease, fcntl.LOCK_SH)
        finally:
            # The claim is held only this long, so that an ingester's claim never waits for us.
            fcntl.flock(claim, fcntl.LOCK_UN)
        if not got_lease:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lease, fcntl.LOCK_UN)

    def held_elsewhere(self) -> bool:
        """Return whether an ingester holds or claims the lease right now."""
        with self.unheld() as free:
            return not free

    def acquire(self, stop: threading.Event, poll_seconds: float = 0.1) -> bool:
        """Take the lease as the folder's ingester, waiting until it is free or stop is set."""
        claim, lease = self._files()
        for fd in (claim, lease):
            while not _try(fd, fcntl.LOCK_EX):
                if stop.wait(poll_seconds):
                    self.release()
                    return False
        return True

    def release(self) -> None:
        """Give the lease up (closing the lock files frees it too, as does dying)."""
        if self._fds is not None and self._pid == os.getpid():
            for fd in self._fds:
                os.close(fd)
        self._fds = None


def _try(fd: int, operation: int) -> bool:
    try:
        fcntl.flock(fd, operation | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
