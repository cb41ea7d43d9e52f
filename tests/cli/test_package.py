"""The package users install: every module and template in the wheel, and a working command.

The slow test builds a wheel from (a copy of) the checkout, installs it with its dependencies in
a fresh venv and runs it from another folder, as `pip install opentrack` users would.
"""

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
import requests
from gunicorn_server import free_port

ROOT = Path(__file__).resolve().parent.parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]

# What pip prints when it cannot reach the package index: the only failure that skips.
NO_NETWORK = re.compile(
    r"NewConnectionError|ConnectTimeoutError|ConnectionError|connection broken"
    r"|Failed to establish a new connection|Temporary failure in name resolution"
    r"|Network is unreachable",
    re.IGNORECASE,
)
# Left out of the copy the wheel is built from: the build then writes nothing in the checkout,
# and a stale build/ folder cannot slip deleted modules into the wheel.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "instance"
)


def test_every_package_is_listed():
    """pyproject names its packages one by one (app.templates cannot be discovered)."""
    on_disk = {
        ".".join(folder.relative_to(ROOT).parts)
        for folder in [ROOT / "app", *(ROOT / "app").rglob("*")]
        if folder.is_dir() and folder.name != "__pycache__" and any(folder.glob("*.py"))
    }
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    assert listed == on_disk | {"app.templates"}


def run_pip(args: list[str], what: str, **kwargs) -> None:
    """Run pip; skip when it cannot reach the package index, fail on any other error."""
    result = subprocess.run(args, capture_output=True, text=True, timeout=900, **kwargs)
    if result.returncode == 0:
        return
    output = result.stdout + result.stderr
    trouble = NO_NETWORK.search(output)
    if trouble:
        line = next(line for line in output.splitlines() if trouble.group(0) in line)
        pytest.skip(f"{what}: no network to reach the package index ({line.strip()[:200]})")
    pytest.fail(f"{what} failed ({result.returncode}):\n{output}")


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    dist = tmp_path / "dist"
    run_pip(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", dist, source],
        "building the wheel",
    )
    (wheel,) = dist.glob("opentrack-*.whl")
    return wheel


class Gunicorn:
    """The installed gunicorn serving the installed app, from another folder."""

    def __init__(self, venv: Path, cwd: Path, env: dict):
        self.log = cwd / "gunicorn.log"
        # Another process may take the free port before gunicorn binds it: try a new one.
        for _ in range(3):
            if self._start(venv, cwd, env):
                return
        raise AssertionError("gunicorn did not serve the sign-in page:\n" + self.log.read_text())

    def _start(self, venv: Path, cwd: Path, env: dict) -> bool:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [venv / "bin" / "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}"]
                + ["--no-control-socket", "app:create_app()"],
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                return False
            try:
                self.response = requests.get(self.url + "/dashboard/login", timeout=5)
                return True
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        return False

    def stop(self) -> None:
        """Stop the master and its workers (a group of their own), whatever state they are in."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.mark.slow
@pytest.mark.sqlite_only
def test_the_wheel_installs_and_runs_from_another_folder(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("app/templates/dashboard/base.html", "app/templates/optout.html"):
        assert name in names
    assert "app/store/postgres.py" in names
    source = tmp_path / "source"
    modules = {path.relative_to(source).as_posix() for path in (source / "app").rglob("*.py")}
    templates = {
        "app/" + path.relative_to(source).as_posix()
        for path in (source / "templates").rglob("*")
        if path.is_file()
    }
    assert modules | templates <= names, sorted((modules | templates) - names)
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names), sorted(names)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=300)
    run_pip([venv / "bin" / "pip", "install", "--quiet", wheel], "installing the wheel")

    # Somewhere else than the checkout, with none of the test run's settings: SQLite, and the
    # package can only come from the venv.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    instance = tmp_path / "instance"
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("PYTHONPATH", "FLASK_APP") and not name.startswith("OPENTRACK_")
    }
    env["OPENTRACK_INSTANCE_PATH"] = str(instance)

    def run(*args):
        return subprocess.run(
            args, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120
        )

    where = run(venv / "bin" / "python", "-c", "import app; print(app.__file__)")
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr

    init = run(venv / "bin" / "opentrack", "init")
    assert init.returncode == 0, init.stdout + init.stderr
    assert init.stdout.strip().startswith("otk_"), init.stdout + init.stderr
    assert (instance / "opentrack.db").is_file()

    version = run(venv / "bin" / "opentrack", "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout == f"opentrack {VERSION}\n"

    server = None
    try:
        server = Gunicorn(venv, elsewhere, env)
        assert server.response.status_code == 200, server.response.text
        assert "<form" in server.response.text
        assert 'name="password"' in server.response.text
    finally:
        if server is not None:
            server.stop()
