"""`python -m bot serve` as a process: SIGTERM stops it within its drain timeout even while a
reindex is stuck on an embeddings server that never answers."""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from urllib.parse import urlencode

import pytest

from tests import servers
from tests.fake_slack import FakeSlack, post, sign

SECRET = "serve-secret"


@pytest.fixture
def silent_server():
    """An embeddings endpoint that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1", listener
    listener.close()


def test_sigterm_stops_the_server_while_a_reindex_is_stuck(migrated_engine, tmp_path, silent_server):
    url, listener = silent_server
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome text to embed.\n")
    fake = FakeSlack()
    port = servers.free_port()
    env = {**os.environ, "DATABASE_URL": migrated_engine.url.render_as_string(hide_password=False),
           "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": SECRET, "SLACK_API_URL": fake.api_url,
           "SLACK_ADMIN_USERS": "UADMIN", "KB_SOURCES": f"stuck{uuid.uuid4().hex[:6]}={docs}", "PORT": str(port),
           "EMBEDDING_BACKEND": "openai", "EMBEDDING_MODEL": "e", "EMBEDDING_BASE_URL": url}
    proc = servers.start(["-m", "bot", "serve", "--http", "--host", "127.0.0.1"],
                         f"http://127.0.0.1:{port}/healthz", env=env, cwd=tmp_path)
    try:
        body = urlencode({"command": "/kb", "text": "reindex", "user_id": "UADMIN", "channel_id": "C1",
                          "team_id": "T0001", "trigger_id": "t1", "response_url": fake.response_url("r")})
        assert post(f"http://127.0.0.1:{port}/slack/events", body, sign(SECRET, body),
                    "application/x-www-form-urlencoded")[0] == 200
        listener.settimeout(60)
        stuck, _ = listener.accept()  # the reindex is now waiting for embeddings that never come
        fake.wait_for("respond")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
        took = time.monotonic() - started
        stuck.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        fake.stop()
    text = servers.output(proc)
    proc.log.close()
    assert code == 0 and took < 30, f"exit {code} after {took:.1f} s:\n{text[-3000:]}"
    assert "Traceback" not in text, text[-3000:]

