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
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "OPENTRACK_INSTANCE_PATH": str(instance), **(env or {})}
        self.log = open(instance.parent / "gunicorn.log", "w")  # noqa: SIM115
        instance.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            procfile_command("web", self.port),
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/ping.gif", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("gunicorn did not start")

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
