"""Start the app under real gunicorn, exactly as the Procfile does, for end-to-end tests."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def wait_for(condition, seconds: float = 15):
    """Return condition()'s first true value within seconds, else its last value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    return condition()


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def procfile_command(process: str, port: int) -> list[str]:
    """Return the Procfile's command line for a process type, with $PORT filled in."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            words = shlex.split(command.replace("$PORT", str(port)))
            words[0] = str(BIN / words[0])
            return words
    raise LookupError(process)


class Server:
    """A running gunicorn with its own instance folder."""

    def __init__(self, instance: Path, env: dict | None = None):
        self.env = {**os.environ, "OPENTRACK_INSTANCE_PATH": str(instance), **(env or {})}
        instance.mkdir(parents=True, exist_ok=True)
        self.log = open(instance.parent / "gunicorn.log", "w")  # noqa: SIM115
        # Another process may take the free port before gunicorn binds it: try a new one.
        for _ in range(3):
            if self._start():
                return
        self.log.close()
        raise RuntimeError("gunicorn did not start; see " + self.log.name)

    def _start(self) -> bool:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            procfile_command("web", self.port),
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # A group of its own: a test can kill -9 the master and its workers at once.
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/ping.gif", timeout=5).status_code == 200:
                    return True
            except requests.RequestException:
                # Not listening yet, or a busy machine slow to answer: ask again.
                time.sleep(0.1)
            if self.process.poll() is not None:
                return False
        self.process.kill()
        self.process.wait()
        return False

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run the opentrack command against this server's instance."""
        return subprocess.run(
            [str(BIN / "opentrack"), *args], env=self.env, capture_output=True, text=True
        )

    def worker_pids(self) -> list[int]:
        """Return the pids of the gunicorn workers."""
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True
        ).stdout
        return [int(pid) for pid in out.split()]

    def stop(self) -> None:
        """Stop gunicorn gracefully."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()
