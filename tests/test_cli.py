"""`python -m bot` end to end, as a user runs it, against the test database."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from core.paths import ROOT


@pytest.fixture
def run(engine, database_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url.render_as_string(hide_password=False),
           "KB_DATA_DIR": str(tmp_path / "unused"),
           # evals/ is a tool of the checkout, not an installed package
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    def run(*args: str, ok: bool = True, module: str = "bot") -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        if ok:
            assert proc.returncode == 0, proc.stderr + proc.stdout
        return proc

    return run


def test_index_then_search_from_the_command_line(tmp_path, run):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "vpn.md").write_text("# VPN\n\n## Errors\n\nError VPN-ERR-619 means your certificate expired.\n")
    (kb / "휴가.md").write_text("# 휴가 정책\n\n휴가를 신청하려면 포털에서 신청서를 제출하세요.\n", encoding="utf-8")
    (kb / "bad.txt").write_bytes(b"\x00\x01\x02 binary")

    report = json.loads(run("index", str(kb), "--collection", "it", "--json").stdout)
    assert (report["added"], report["failed"]) == (2, 1)
    assert report["failures"][0]["reason"] == "binary file, not text"

    hits = json.loads(run("search", "VPN-ERR-619", "--collection", "it", "--json", "--k", "1").stdout)
    assert [(h["title"], h["section"], h["source"]) for h in hits] == [("VPN", "Errors", str(kb / "vpn.md"))]
    assert hits[0]["score"] > 0 and hits[0]["keyword_rank"] == 1

    human = run("search", "휴가 신청", "--collection", "it").stdout
    assert "휴가 정책" in human.splitlines()[0]

    again = json.loads(run("index", str(kb), "--collection", "it", "--json").stdout)
    assert (again["added"], again["unchanged"]) == (0, 2)
    assert "it" in run("collections").stdout
    assert run("db", "current").stdout.startswith("schema revision: 0010")


def test_errors_are_short_and_exit_nonzero(run):
    proc = run("search", "   ", ok=False)
    assert proc.returncode == 1 and "empty" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("index", "/does/not/exist", ok=False)
    assert proc.returncode == 1 and "no such file or folder" in proc.stdout


def test_purge_needs_an_age_and_says_what_it_removed(run):
    proc = run("purge", ok=False)
    assert proc.returncode == 1 and "--older-than 90d" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("purge", "--older-than", "ninety", ok=False)
    assert proc.returncode == 1 and "expected an age such as 90d" in proc.stderr
    assert "purged what is older than 90d: " in run("purge", "--older-than", "90d").stdout


def test_ask_prints_the_answer_sources_and_latency_breakdown(tmp_path, run):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "vpn.md").write_text("# VPN\n\n## Errors\n\nError VPN-ERR-619 means your VPN certificate expired. "
                               "Renew it in the Self Service app, then reconnect.\n")
    run("index", str(kb), "--collection", "it")

    human = run("ask", "What does the VPN error VPN-ERR-619 mean?", "--collection", "it", "--model", "local").stdout
    last = human.strip().splitlines()[-1]
    # the model's answer, or (ANSWER_MODE=auto) the evidence when its answer failed the review
    assert ("route answer" in last or "route extractive" in last) and "llamacpp/SmolLM2" in last
    assert "VPN-ERR-619" in human and "[1]" in human
    assert all(f"{stage} " in last for stage in ("rewrite", "retrieve", "generate", "review", "total"))
    assert "log #" in last

    answer = json.loads(run("ask", "Who won the 2018 FIFA World Cup?", "--collection", "it", "--json").stdout)
    assert (answer["route"], answer["model_calls"]) == ("dont_know", 0)
    assert answer["sources"][0]["title"] == "VPN" and answer["interaction_id"] > 0

    helped = json.loads(run("ask", "도움말", "--json").stdout)
    assert helped["route"] == "help" and helped["language"] == "ko"


def _two_documents(tmp_path, run, collection: str):
    """A VPN page and a leave page, indexed into ``collection``; returns their folder."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "vpn.md").write_text("# VPN\n\n## Errors\n\nError VPN-ERR-619 means your certificate expired.\n")
    (kb / "leave.md").write_text("# Leave\n\nInterns get 1.5 vacation days per month.\n")
    run("index", str(kb), "--collection", collection)
    return kb


def test_exports_and_the_retrieval_regression_set_from_the_command_line(tmp_path, run):
    kb = _two_documents(tmp_path, run, "it")
    future = run("export", "training", "--format", "chat", "--since", "2999-01-01")
    assert future.stdout == "" and "training: 0 records; personal data scrubbed in 0" in future.stderr
    out = tmp_path / "eval.jsonl"
    assert run("export", "eval", "--since", "2999-01-01", "--out", str(out)).returncode == 0
    assert out.read_text() == ""
    bad = run("export", "eval", "--since", "yesterday", ok=False)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr

    records = [{"question": "What does VPN-ERR-619 mean?", "collections": ["it"],
                "expected": [{"collection": "it", "source": str(kb / "vpn.md"), "title": "VPN"}]},
               {"question": "How many vacation days do interns get?", "collections": ["it"],
                "expected": [{"collection": "it", "source": str(kb / "leave.md"), "title": "Leave"}]}]
    out.write_text("".join(json.dumps(r) + "\n" for r in records))
    result = json.loads(run("retrieval", "--from", str(out), "--k", "1", "--json", module="evals").stdout)
    assert (result["questions"], result["recall@1"], result["mrr@10"]) == (2, 1.0, 1.0)
    out.write_text("not json\n")
    broken = run("retrieval", "--from", str(out), ok=False, module="evals")
    assert broken.returncode != 0 and "eval.jsonl:1" in broken.stderr + broken.stdout
    assert "Traceback" not in broken.stderr


def test_anyone_can_evaluate_their_own_collection_and_an_empty_one_fails_loudly(tmp_path, run):
    kb = _two_documents(tmp_path, run, "ours")
    cases = tmp_path / "cases.json"
    cases.write_text(json.dumps([{"id": "world-cup", "question": "Who won the 2018 FIFA World Cup final?",
                                  "route": "dont_know", "language": "en"}]))
    missing = run("answers", "--cases", str(cases), "--collection", "nope", ok=False, module="evals")
    assert missing.returncode == 1 and "'nope' does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr
    result = json.loads(run("answers", "--cases", str(cases), "--collection", "ours", "--json", module="evals").stdout)
    assert result["collection"] == "ours" and result["gates_passed"] and result["cases"] == 1

    records = tmp_path / "set.jsonl"  # exported elsewhere: another collection name, our documents
    records.write_text(json.dumps({"question": "What does VPN-ERR-619 mean?", "collections": ["it"],
                                   "expected": [{"collection": "it", "source": str(kb / "vpn.md")}]}) + "\n")
    scored = json.loads(run("retrieval", "--from", str(records), "--collection", "ours", "--k", "1", "--json",
                            module="evals").stdout)
    assert (scored["questions"], scored["recall@1"]) == (1, 1.0)
    empty = run("retrieval", "--from", str(records), "--collection", "nope", ok=False, module="evals")
    assert empty.returncode == 1 and "'nope' does not exist" in empty.stderr
