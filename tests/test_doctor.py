"""`python -m bot doctor` as a user runs it: one line per check, the fix under each failure, and
a non-zero exit when anything fails."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.doctor import manifest_scopes
from tests import servers
from tests.fake_slack import FakeSlack


@pytest.fixture
def doctor(migrated_engine, tmp_path):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HOSTED_", "DATABASE_", "KB_"))}

    def doctor(**env: str) -> subprocess.CompletedProcess:
        full = {**base, "KB_DATA_DIR": str(tmp_path / "unused"),
                "DATABASE_URL": migrated_engine.url.render_as_string(hide_password=False), **env}
        return subprocess.run([sys.executable, "-m", "bot", "doctor"], cwd=tmp_path, env=full, capture_output=True,
                              text=True, timeout=300)

    return doctor


def lines(proc: subprocess.CompletedProcess) -> dict[str, str]:
    """check name -> its line (and the fix line under it)."""
    out: dict[str, str] = {}
    name = None
    for line in proc.stdout.splitlines():
        if line.startswith("  fix:") and name:
            out[name] += "\n" + line
        elif line[:1] in "✓✗–!" and len(line.split()) > 1:
            name = line[2:14].strip()
            out[name] = line
    return out


def test_a_healthy_setup_passes_every_check(doctor, tmp_path):
    fake = FakeSlack()
    fake.scopes = sorted(manifest_scopes()) + ["team:read"]
    try:
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "a.md").write_text("# A\n\nText.\n")
        proc = doctor(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s", SLACK_API_URL=fake.api_url,
                      KB_SOURCES=f"docs={tmp_path / 'docs'}")
    finally:
        fake.stop()
    checks = lines(proc)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("python", "cpu", "settings", "database", "pgvector", "migrations", "embedder", "local model",
                 "slack", "sources"):
        assert checks[name].startswith("✓"), checks[name]
    assert "pgvector 0.8" in checks["pgvector"] and "head" in checks["migrations"]
    assert checks["hosted model"].startswith("–") and "bot @kb" in checks["slack"]
    assert "all 12 scopes of slack/manifest.yml granted" in checks["slack"]
    assert proc.stdout.rstrip().endswith("all checks passed")


def test_each_failure_is_named_with_its_fix_and_the_exit_is_non_zero(doctor, tmp_path):
    dead = f"http://127.0.0.1:{servers.free_port()}"
    proc = doctor(DATABASE_URL=f"postgresql://kb@127.0.0.1:{servers.free_port()}/kb", HOSTED_MODEL="gpt-x",
                  HOSTED_BASE_URL=f"{dead}/v1", HOSTED_TIMEOUT_S="3", SLACK_BOT_TOKEN="xoxb-test",
                  SLACK_SIGNING_SECRET="s", SLACK_API_URL=f"{dead}/api/", KB_SOURCES=f"hr={tmp_path / 'gone'}")
    checks = lines(proc)
    assert proc.returncode == 1
    assert checks["database"].startswith("✗ database") and "cannot connect" in checks["database"]
    assert "fix: start the server or fix DATABASE_URL" in checks["database"]
    assert checks["pgvector"].startswith("–") and checks["migrations"].startswith("–")
    assert checks["hosted model"].startswith("✗") and "fix: check HOSTED_BASE_URL" in checks["hosted model"]
    assert checks["slack"].startswith("✗") and "cannot reach Slack" in checks["slack"]
    assert checks["sources"].startswith("✗") and "gone does not exist" in checks["sources"]
    assert checks["local model"].startswith("✓")  # the rest still ran
    assert "Traceback" not in proc.stdout + proc.stderr


def test_invalid_settings_are_a_failed_check_not_a_crash(doctor):
    proc = doctor(CHUNK_SIZE="lots")
    checks = lines(proc)
    assert proc.returncode == 1 and checks["settings"].startswith("✗ settings")
    assert "CHUNK_SIZE" in checks["settings"] and "fix: fix it in .env" in checks["settings"]
    assert checks["database"].startswith("–") and checks["python"].startswith("✓")


def test_a_token_without_the_scopes_the_manifest_asks_for_fails(doctor):
    fake = FakeSlack()
    fake.scopes = sorted(manifest_scopes() - {"reactions:read", "im:history"})
    try:
        proc = doctor(SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="s", SLACK_API_URL=fake.api_url)
    finally:
        fake.stop()
    slack = lines(proc)["slack"]
    assert proc.returncode == 1 and slack.startswith("✗ slack")
    assert "missing scopes: im:history, reactions:read" in slack and "fix: add them under OAuth" in slack
