"""Real local servers for tests: started as subprocesses on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], health_url: str, timeout: float = 120.0, **popen) -> subprocess.Popen:
    """``python ARGS`` until ``health_url`` answers 200; ``popen`` (env, cwd) goes to Popen.
    The process's output is kept in ``proc.log``; ``output(proc)`` reads its end."""
    # Logs go to a file: a pipe nobody reads fills up and blocks a chatty server.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, *args], stdout=log, stderr=subprocess.STDOUT, **popen)
    proc.log = log
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {_tail(log)}")
        try:
            with urllib.request.urlopen(health_url, timeout=1) as resp:
                if resp.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not answer {health_url} within {timeout} s: {_tail(log)}")


def _tail(log, chars: int = 2000) -> str:
    log.seek(0)
    return log.read().decode(errors="replace")[-chars:]


def output(proc: subprocess.Popen, chars: int = 3000) -> str:
    return _tail(proc.log, chars)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.log.close()


def start_llama_server(model_path: str, alias: str = "smollm2") -> tuple[str, subprocess.Popen]:
    """llama-cpp-python's own OpenAI-compatible server for ``model_path``; returns (base URL, process)."""
    port = free_port()
    proc = start(["-m", "llama_cpp.server", "--model", model_path, "--model_alias", alias, "--host", "127.0.0.1",
                  "--port", str(port), "--n_ctx", "4096", "--n_threads", "2"], f"http://127.0.0.1:{port}/v1/models")
    return f"http://127.0.0.1:{port}/v1", proc
