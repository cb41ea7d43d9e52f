"""Faults of the recording path, on real gunicorn as the Procfile starts it.

Each test runs with the web server alone (each web worker stores its own spool) and with the
Procfile's `ingest:` process beside it (the host's single writer):

- a killed server restarted with no traffic stores what its dead processes spooled;
- a full disk under the spool loses no fetch that was answered.
"""

import contextlib
import errno
import os
import signal
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from gunicorn_server import ROOT, Server, procfile_command, wait_for

from app.store import Store

pytestmark = pytest.mark.slow
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
SHAPES = pytest.mark.parametrize("beside", [(), ("ingest",)], ids=["web", "web+ingest"])


class Host:
    """The Procfile's web line and the lines beside it, on one instance folder."""

    def __init__(self, instance: Path, beside: tuple[str, ...], env: dict | None = None):
        self.web = Server(instance, env)
        self.others = [
            subprocess.Popen(
                procfile_command(name, self.web.port),
                cwd=ROOT,
                env=self.web.env,
                stdout=self.web.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for name in beside
        ]
        self.url = self.web.url

    def kill(self) -> None:
        """kill -9 every process of the host at once."""
        for process in [self.web.process, *self.others]:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        for process in [self.web.process, *self.others]:
            process.wait()
        self.web.log.close()

    def stop(self) -> None:
        """Stop gracefully: the web server first, then what stores its spools."""
        self.web.stop()
        for process in self.others:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def database_of(env: dict) -> str:
    return env.get("OPENTRACK_DATABASE") or str(
        Path(env["OPENTRACK_INSTANCE_PATH"]) / "opentrack.db"
    )


def hold_write_lock(database: str):
    """Return a connection that keeps writers to the events table waiting until rollback."""
    if database.startswith("postgresql://"):
        import psycopg

        blocker = psycopg.connect(database)
        blocker.execute("LOCK TABLE events IN EXCLUSIVE MODE")
        return blocker
    blocker = sqlite3.connect(database, timeout=30)
    blocker.execute("BEGIN IMMEDIATE")
    return blocker


def inject(host: Host, count: int) -> tuple[requests.Session, list[str]]:
    """Create a key and a campaign of count messages; return a session and the pixel URLs."""
    result = host.web.cli("keys", "create", "faults")
    assert result.returncode == 0, result.stderr
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {result.stdout.strip()}"
    assert http.post(host.url + "/api/v1/campaigns", json={"id": "faults"}).status_code == 201
    answer = http.post(
        host.url + "/api/v1/campaigns/faults/inject",
        json={"html": "<body></body>", "recipients": [f"r{i}@example.com" for i in range(count)]},
    )
    assert answer.status_code == 201, answer.text
    return http, [message["pixel_url"] for message in answer.json()["messages"]]


def stored(http: requests.Session, url: str) -> int:
    return http.get(url + "/api/v1/campaigns/faults/stats", timeout=30).json()["total_opens"]


def fetch_all(urls: list[str], threads: int = 16) -> int:
    """Fetch every URL once (answers cut by a kill are not counted); return the 200s."""

    def fetch(url):
        try:
            return requests.get(url, headers={"User-Agent": IPHONE}, timeout=30).status_code == 200
        except requests.RequestException:
            return False

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(fetch, urls))


@SHAPES
def test_a_killed_server_restarted_with_no_traffic_stores_its_spools(tmp_path, beside):
    instance = tmp_path / "instance"
    host = Host(instance, beside)
    try:
        http, urls = inject(host, 200)
        # Nothing can be stored while the load runs, so that all of it is still spooled when
        # the whole server is killed.
        blocker = hold_write_lock(database_of(host.web.env))
        answered = fetch_all(urls * 2)
        host.kill()
        blocker.rollback()
        blocker.close()
    except BaseException:
        host.kill()
        raise
    assert answered == 400
    restarted = Host(instance, beside)
    try:
        # No pixel is fetched after the restart: the dead processes' spools are found anyway.
        started = time.monotonic()
        assert wait_for(lambda: stored(http, restarted.url) >= answered, seconds=20)
        took = time.monotonic() - started
        assert stored(http, restarted.url) == answered
    finally:
        restarted.stop()
    assert took < 15


def mount_tmpfs(folder: Path, size: str) -> None:
    """Mount a small tmpfs on folder, or skip the test when that is not allowed here."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"could not mount a tmpfs: {done.stderr.strip()}")


def fill(folder: Path) -> Path:
    """Fill the file system of folder until it has no space left; return the filler file."""
    filler = folder / "filler"
    chunk = b"\0" * 65536
    with open(filler, "wb", buffering=0) as file:
        while True:
            try:
                file.write(chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    return filler


@SHAPES
def test_a_full_disk_under_the_spool_loses_no_answered_fetch(tmp_path, beside):
    disk = tmp_path / "disk"
    mount_tmpfs(disk, "16m")
    try:
        env = {}
        if os.environ.get("OPENTRACK_DATABASE", "").startswith("postgresql://"):
            env["OPENTRACK_SPOOL_DIR"] = str(disk / "spool")
        else:
            # The database on the same small disk, as on a small host.
            env["OPENTRACK_DATABASE"] = str(disk / "opentrack.db")
        host = Host(tmp_path / "instance", beside, env)
        try:
            http, urls = inject(host, 500)
            filler = fill(disk)
            answered = fetch_all(urls)
            assert answered == 500
            time.sleep(1)
            os.unlink(filler)
            assert wait_for(lambda: stored(http, host.url) >= answered, seconds=30)
            assert stored(http, host.url) == answered
        finally:
            host.stop()
        log = Path(host.web.log.name).read_text()
        assert "cannot be written" in log
        assert "writable again" in log
        store = Store(database_of(host.web.env))
        try:
            metrics = store.metrics()
        finally:
            store.close()
        assert metrics.get("spool_degraded_ms", 0) > 0
        assert metrics.get("spool_write_errors", 0) > 0
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
