"""Shared helpers for the benchmark scripts: run Opentrack under gunicorn on loopback.

Not a benchmark itself; the ``scripts/bench_*.py`` scripts import it.
"""

import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The venv the script runs in: gunicorn and opentrack are found beside its python.
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so that `finally` blocks clean up."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def free_port() -> int:
    """Return a TCP port free on every address (the Procfile binds 0.0.0.0) right now."""
    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


def procfile_line(name: str, port: int) -> list[str]:
    """Return the arguments of the Procfile's `name:` line with $PORT filled in."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return shlex.split(line.removeprefix(f"{name}:").replace("$PORT", str(port)))
    raise SystemExit(f"Procfile has no {name}: line")


def procfile_command(port: int, workers: int) -> list[str]:
    """Return the Procfile's web command with $PORT filled in and --workers set."""
    args = procfile_line("web", port)
    if "--workers" in args:
        args[args.index("--workers") + 1] = str(workers)
    return args


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of an already sorted list (0 when empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def print_table(headers: list[str], rows: list[list]) -> None:
    """Print a Markdown table, right-aligning every column but the first."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]

    def line(values):
        parts = [v.ljust(widths[0]) if i == 0 else v.rjust(widths[i]) for i, v in enumerate(values)]
        return "| " + " | ".join(parts) + " |"

    print(line(headers))
    print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    for row in cells:
        print(line(row))


class PortTaken(Exception):
    """Gunicorn could not bind the port."""


class Server:
    """Opentrack under gunicorn as the Procfile runs it, on a temp instance; a context manager."""

    def __init__(self, workers: int = 4, env: dict | None = None, beside: tuple[str, ...] = ()):
        self.workers = workers
        # Other Procfile lines (such as "ingest") run beside gunicorn, started and stopped with it.
        self.beside = beside
        self.others: list[subprocess.Popen] = []
        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="opentrack-bench-")
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            # gunicorn and the opentrack command use the app beside these scripts.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "PORT": str(self.port),
            "OPENTRACK_INSTANCE_PATH": os.path.join(self.tmp, "instance"),
            "OPENTRACK_BASE_URL": self.url(),
            **(env or {}),
        }
        self.proc = None
        self.key = None

    def __enter__(self) -> "Server":
        try:
            for _attempt in range(3):
                try:
                    self.start()
                    return self
                except PortTaken:
                    # Another process took the port between our check and gunicorn's bind.
                    self.port = free_port()
                    self.env.update(PORT=str(self.port), OPENTRACK_BASE_URL=self.url())
            raise SystemExit("no free port found in 3 tries")
        except BaseException:
            self.close()
            raise

    def url(self) -> str:
        """Return the origin the server answers on."""
        return f"http://{HOST}:{self.port}"

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        """Start gunicorn, wait until it answers, and create an API key."""
        self.log = open(os.path.join(self.tmp, "gunicorn.log"), "wb")  # noqa: SIM115
        # A session of its own: Ctrl-C reaches only us, and we stop gunicorn gracefully.
        self.proc = subprocess.Popen(
            procfile_command(self.port, self.workers),
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                if "Address already in use" in self.log_tail():
                    raise PortTaken
                raise SystemExit(f"gunicorn exited early:\n{self.log_tail()}")
            try:
                status, _ = self.request("GET", "/ping.gif", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"gunicorn did not answer within 60 s:\n{self.log_tail()}")
        self.key = self.cli("keys", "create", "bench").stdout.strip()
        for name in self.beside:
            command = procfile_line(name, self.port)
            command[0] = str(BIN / command[0])
            self.others.append(
                subprocess.Popen(
                    command,
                    cwd=ROOT,
                    env=self.env,
                    stdout=self.log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """Run an `opentrack` command on this instance and return its result."""
        result = subprocess.run(
            [str(BIN / "opentrack"), *args], cwd=ROOT, env=self.env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise SystemExit(f"opentrack {' '.join(args)} failed:\n{result.stderr}")
        return result

    def request(self, method: str, path: str, body=None, timeout: float = 600) -> tuple[int, bytes]:
        """Send one request on a new connection; return (status, body bytes)."""
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def api(self, method: str, path: str, body=None, expect: int = 200) -> dict:
        """Call the JSON API and return the decoded answer; exit when the status is unexpected."""
        status, data = self.request(method, "/api/v1" + path, body)
        if status != expect:
            raise SystemExit(
                f"{method} {path} answered {status}: {data[:500]!r}\n"
                f"gunicorn log:\n{self.log_tail()}"
            )
        return json.loads(data)

    def stop(self) -> int | None:
        """Stop gunicorn gracefully (SIGTERM), killing it after 30 s; return its exit code.

        The processes beside it stop after it, so that they store what its workers left.
        """
        try:
            return self._stop_gunicorn()
        finally:
            for other in self.others:
                if other.poll() is None:
                    other.send_signal(signal.SIGTERM)
                    try:
                        other.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        other.kill()
                        other.wait()

    def _stop_gunicorn(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc and self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        except BaseException as error:  # too slow, or Ctrl-C while waiting
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            if isinstance(error, subprocess.TimeoutExpired):
                return None
            raise

    def cpu_seconds(self, others: bool = True) -> float:
        """Return the CPU seconds used so far by gunicorn's master and its live workers, and
        by the processes beside it unless others is False."""
        pid = self.proc.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:  # not Linux, or a kernel without that file
            return float("nan")
        beside = [other.pid for other in self.others if other.poll() is None] if others else []
        return sum(_cpu_of(each) for each in [pid, *children, *beside])

    def others_cpu_seconds(self) -> float:
        """Return the CPU seconds used so far by the live processes beside gunicorn."""
        return sum(_cpu_of(other.pid) for other in self.others if other.poll() is None)

    def log_tail(self, lines: int = 30) -> str:
        """Return the end of gunicorn's log."""
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, errors="replace") as file:
            return "".join(file.readlines()[-lines:])

    def close(self) -> None:
        """Stop gunicorn if it runs and remove the temp folder."""
        try:
            self.stop()
        finally:
            if getattr(self, "log", None):
                self.log.close()
            shutil.rmtree(self.tmp, ignore_errors=True)


def _cpu_of(pid: int) -> float:
    """Return the CPU seconds (user and system) a live process has used, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
