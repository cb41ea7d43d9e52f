"""`opentrack ingest` runs below the web workers' CPU priority (OPENTRACK_INGEST_NICE)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gunicorn_server import wait_for

OPENTRACK = Path(sys.executable).parent / "opentrack"
pytestmark = pytest.mark.one_engine


def niceness(pid: int) -> int:
    """Return a process's nice value, field 19 of /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])


def start_ingest(tmp_path: Path, **settings: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "OPENTRACK_INSTANCE_PATH": str(tmp_path / "instance"),
        **{f"OPENTRACK_{name}": value for name, value in settings.items()},
    }
    env.pop("OPENTRACK_DATABASE", None)
    return subprocess.Popen(
        [OPENTRACK, "ingest"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def holding(process: subprocess.Popen) -> bool:
    """Wait until the ingester says it holds the lease; return whether it did."""
    return any("holds the lease" in line for line in process.stderr)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(("setting", "expected"), [(None, 10), ("0", 0), ("19", 19)])
def test_the_ingester_lowers_its_priority_by_the_setting(tmp_path, setting, expected):
    own = niceness(os.getpid())
    settings = {} if setting is None else {"INGEST_NICE": setting}
    process = start_ingest(tmp_path, **settings)
    try:
        assert holding(process)
        assert wait_for(lambda: niceness(process.pid) == min(own + expected, 19))
    finally:
        process.terminate()
        process.communicate(timeout=10)
    assert process.returncode == 0


@pytest.mark.parametrize("value", ["20", "-1", "ten"])
def test_a_priority_the_kernel_has_not_is_refused_with_its_name(tmp_path, value):
    process = start_ingest(tmp_path, INGEST_NICE=value)
    _, error = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "OPENTRACK_INGEST_NICE" in error
