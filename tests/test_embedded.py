"""The embedded PostgreSQL's lifetime: it stops when the last process using it exits, even when an
earlier one was killed and could not say goodbye."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest

from core.paths import ROOT

_USE = "import os, signal, sys; from pathlib import Path; from retrieval.db import start_embedded; " \
       "start_embedded(Path(sys.argv[1])); {end}"


def _postmaster(data: Path) -> int | None:
    pid_file = data / "pgdata" / "postmaster.pid"
    if not pid_file.exists():
        return None
    pid = int(pid_file.read_text().split()[0])
    return pid if psutil.pid_exists(pid) else None


@pytest.fixture
def data_dir():
    data = Path(tempfile.mkdtemp(prefix="kb-embedded-"))
    yield data
    pid = _postmaster(data)
    if pid:
        psutil.Process(pid).terminate()
    shutil.rmtree(data, ignore_errors=True)


def _use(data: Path, end: str) -> int:
    return subprocess.run([sys.executable, "-c", _USE.format(end=end), str(data)], cwd=ROOT, timeout=120).returncode


def test_the_server_stops_after_the_last_process_even_if_one_was_killed(data_dir):
    assert _use(data_dir, "os.kill(os.getpid(), signal.SIGKILL)") == -9
    assert _postmaster(data_dir) is not None  # the killed process could not stop it
    assert _use(data_dir, "pass") == 0
    assert _postmaster(data_dir) is None


def test_the_command_line_stops_the_server_on_sigterm(data_dir):
    env_code = ("import os, signal, sys, time; from pathlib import Path; from retrieval.db import start_embedded; "
                "from bot.cli import stop_on_sigterm; stop_on_sigterm(); start_embedded(Path(sys.argv[1])); "
                "print('ready', flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", env_code, str(data_dir)], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "ready"
    assert _postmaster(data_dir) is not None
    proc.terminate()
    assert proc.wait(60) != 0
    assert _postmaster(data_dir) is None
