"""Sources that try to hang, flood or leak through the indexer, against the real PostgreSQL.

Each run goes through a helper that fails the test (instead of hanging the suite) when
the indexer does not come back in time.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from retrieval.chunking import ChunkingParams
from retrieval.ingest import Indexer, IndexReport
from retrieval.search import RetrievalParams, Searcher
from retrieval.sources import SourceItem, outside
from tests.test_ingest import write

KEYWORD = RetrievalParams(mode="keyword", k=5)
# Parsing this valid Markdown takes markdown-it about 10 s (16 µs a bracket); a budget of 1 s cuts it short.
SLOW_MARKDOWN = "[" * 600_000 + "slow" + "]" * 600_000


def within(seconds: float, run, *args, **kwargs):
    """``run(*args, **kwargs)`` on a daemon thread; the test fails if it is not back in ``seconds``."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = run(*args, **kwargs)
        except BaseException as exc:  # re-raised in the test's thread
            result["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in result:
        raise result["error"]
    result["seconds"] = time.monotonic() - started
    return result["value"]


def reasons(report: IndexReport) -> dict[str, str]:
    return {Path(source).name: reason for source, reason in report.failed}


@pytest.fixture
def indexer(engine, fake_embedder):
    return Indexer(engine, fake_embedder, ChunkingParams(size=400, overlap=40), max_file_bytes=50_000,
                   parse_seconds=5)


@pytest.fixture
def searcher(engine, fake_embedder):
    return Searcher(engine, fake_embedder)


def test_a_named_pipe_is_reported_and_the_run_goes_on(tmp_path, indexer, searcher):
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe heron pond is behind building C.\n")
    os.mkfifo(tmp_path / "kb" / "pipe.md")  # nobody ever writes to it: reading it would block forever
    report = within(30, indexer.index_paths, [tmp_path / "kb"], "docs")
    assert reasons(report) == {"pipe.md": "not a regular file (named pipe)"}
    assert report.added == [str(good)]
    assert searcher.search("heron pond", KEYWORD)[0].title == "Good"


def test_a_symlink_to_dev_zero_is_refused_without_reading_it(tmp_path, indexer):
    write(tmp_path / "kb" / "good.md", "# Good\n\nalpha\n")
    (tmp_path / "kb" / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "named.txt").symlink_to("/dev/zero")  # named on the command line: a link is never a root
    report = within(30, indexer.index_paths, [tmp_path / "kb", tmp_path / "named.txt"], "docs")
    assert reasons(report) == {"zero.txt": outside("/dev/zero"), "named.txt": outside("/dev/zero")}
    assert len(report.added) == 1


def test_a_special_file_named_itself_is_refused_for_what_it_is(tmp_path, indexer):
    os.mkfifo(tmp_path / "pipe.md")
    report = within(30, indexer.index_paths, [tmp_path / "pipe.md"], "docs")
    assert reasons(report) == {"pipe.md": "not a regular file (named pipe)"}


def test_a_symlink_out_of_the_source_folder_is_not_indexed(tmp_path, indexer, searcher):
    secret = write(tmp_path / "srv" / "app.env", "DB_PASSWORD=zebracorn-hunter2\n")
    write(tmp_path / "kb" / "good.md", "# Good\n\nalpha\n")
    (tmp_path / "kb" / "x.txt").symlink_to(secret)
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert reasons(report) == {"x.txt": f"a link to a file outside the sources ({secret}); not indexed"}
    assert searcher.search("zebracorn", KEYWORD) == []


def test_a_symlink_inside_the_source_folder_is_indexed(tmp_path, indexer, searcher):
    write(tmp_path / "kb" / "notes" / "guide.md", "# Guide\n\nThe kiln is fired on Fridays.\n")
    (tmp_path / "kb" / "latest.md").symlink_to(tmp_path / "kb" / "notes" / "guide.md")
    report = indexer.index_paths([tmp_path / "kb"], "docs")
    assert report.failed == [] and sorted(report.added) == [str(tmp_path / "kb" / "latest.md"),
                                                            str(tmp_path / "kb" / "notes" / "guide.md")]
    assert {hit.source for hit in searcher.search("kiln fired", KEYWORD)} == set(report.added)


def test_a_symlink_given_as_a_file_is_read_only_inside_the_sources_and_typed_by_its_target(tmp_path, indexer,
                                                                                             searcher):
    secret = write(tmp_path / "srv" / "app.env", "DB_PASSWORD=zebracorn-hunter2\n")
    notes = write(tmp_path / "kb" / "notes.txt", "The kiln is fired on Fridays.\n")
    write(tmp_path / "kb" / "photo.bin", b"\x89PNG\r\n\x1a\n\x00\x00")
    links = tmp_path / "links"
    links.mkdir()
    (links / "secrets.md").symlink_to(secret)  # named like a document, a secret outside every source
    (links / "hidden.md").symlink_to(write(tmp_path / "kb" / ".env", "API_TOKEN=quagga-7\n"))  # walking skips it
    (links / "kiln.pdf").symlink_to(notes)  # inside a source folder, and text whatever its name says
    (links / "cover.md").symlink_to(tmp_path / "kb" / "photo.bin")
    report = within(30, indexer.index_paths, [tmp_path / "kb", *sorted(links.iterdir())], "docs")
    assert reasons(report) == {
        "secrets.md": f"a link to a file outside the sources ({secret}); not indexed",
        "hidden.md": f"a link to a file outside the sources ({tmp_path / 'kb' / '.env'}); not indexed",
        "cover.md": f"unsupported file type .bin (it links to {tmp_path / 'kb' / 'photo.bin'})",
    }
    assert report.added == [str(notes)]  # once, as the file it is
    assert searcher.search("zebracorn", KEYWORD) == [] and searcher.search("quagga", KEYWORD) == []
    assert searcher.search("kiln fired", KEYWORD)[0].source == str(notes)


def test_a_symlink_in_a_source_folder_is_read_only_if_walking_would_read_its_target(tmp_path, indexer, searcher):
    kb = tmp_path / "kb"
    write(kb / "good.md", "# Good\n\nalpha\n")
    write(kb / ".env", "API_TOKEN=quagga-7\n")
    (kb / "notes.md").symlink_to(kb / ".env")
    write(kb / "scan.bin", b"\x00\x01binary")
    (kb / "latest.md").symlink_to(kb / "scan.bin")  # typed by its target: not a document, so not read
    report = indexer.index_paths([kb], "docs")
    assert reasons(report) == {"notes.md": f"a link to a file outside the sources ({kb / '.env'}); not indexed"}
    assert report.added == [str(kb / "good.md")]
    assert searcher.search("quagga", KEYWORD) == []


def test_symlinked_folders_are_not_entered_and_loops_end(tmp_path, indexer, searcher):
    write(tmp_path / "srv" / "secret.md", "# Secret\n\nzebracorn\n")
    kb = tmp_path / "kb"
    good = write(kb / "sub" / "good.md", "# Good\n\nalpha\n")
    (kb / "srv").symlink_to(tmp_path / "srv")
    (kb / "sub" / "up").symlink_to(kb)
    (kb / "self").symlink_to(kb / "self")  # a link to itself: a loop at the first step
    report = within(30, indexer.index_paths, [kb], "docs")
    assert report.added == [str(good)] and report.failed == []
    assert searcher.search("zebracorn", KEYWORD) == []


def test_a_link_given_on_the_command_line_to_a_secret_is_refused_and_the_run_goes_on(tmp_path, database_url,
                                                                                     monkeypatch, capsys, searcher):
    import json

    from bot.cli import main

    secret = write(tmp_path / "srv" / "app.env", "DB_PASSWORD=zebracorn-hunter2\n")
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe heron pond is behind building C.\n")
    (tmp_path / "kb" / "link.md").symlink_to(secret)
    with cli_env(tmp_path, database_url, monkeypatch):
        assert main(["index", str(tmp_path / "kb" / "link.md"), str(good), "--collection", "team", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["failures"] == [{"source": str(tmp_path / "kb" / "link.md"),
                                   "reason": f"a link to a file outside the sources ({secret}); not indexed"}]
    assert report["added"] == 1
    assert searcher.search("zebracorn", KEYWORD) == [] and searcher.search("heron pond", KEYWORD)


def test_a_yaml_alias_bomb_in_front_matter_is_ignored_and_the_document_indexed(tmp_path, indexer, searcher):
    anchors = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9))
    bomb = write(tmp_path / "kb" / "bomb.md", f"---\n{anchors}title: *a8\n---\n# Lunch menu\n\nSoup on Tuesdays.\n")
    assert bomb.stat().st_size < 1000  # expanded, its title would be 9**9 strings
    report = within(30, indexer.index_paths, [tmp_path / "kb"], "docs")
    assert report.added == [str(bomb)]
    hit = searcher.search("soup tuesdays", KEYWORD)[0]
    assert hit.title == "Lunch menu" and "lol" not in hit.text


def test_a_huge_heading_gives_a_bounded_title(tmp_path, indexer, searcher):
    write(tmp_path / "kb" / "long.md", "# " + "very " * 5000 + "long\n\nThe walrus key is in the drawer.\n")
    indexer.index_paths([tmp_path / "kb"], "docs")
    assert len(searcher.search("walrus drawer", KEYWORD)[0].title) <= 300


def test_the_size_limit_counts_bytes_read_not_what_stat_says(tmp_path, engine, fake_embedder):
    maps = Path(f"/proc/{os.getpid()}/maps")  # a regular file whose stat size is 0, with kilobytes inside
    assert maps.stat().st_size == 0 and len(maps.read_bytes()) > 2000
    small = Indexer(engine, fake_embedder, max_file_bytes=1000)
    report = within(30, small.index_items, [SourceItem(str(maps), "text", path=maps, root=maps)], "docs")
    assert [reason for _, reason in report.failed] == ["too large: more than the limit of 0.0 MB (MAX_FILE_MB)"]


def test_an_emptied_folder_keeps_its_documents_unless_allowed(tmp_path, indexer, searcher):
    kb = tmp_path / "kb"
    a = write(kb / "a.md", "# A\n\nThe otter rota is on the wiki.\n")
    b = write(kb / "sub" / "b.md", "# B\n\nbravo\n")
    indexer.index_paths([kb], "docs")
    a.unlink()
    b.unlink()
    write(kb / "photo.png", b"\x89PNG")  # nothing indexable left: as good as empty

    report = indexer.index_paths([kb], "docs")
    assert report.removed == [] and report.kept == sorted([str(a), str(b)])
    assert report.warnings == [f"{kb} is empty: kept its 2 documents"]
    assert searcher.search("otter rota", KEYWORD)[0].title == "A"

    allowed = indexer.index_paths([kb], "docs", allow_empty=True)
    assert allowed.removed == sorted([str(a), str(b)]) and allowed.kept == [] and allowed.warnings == []
    assert searcher.search("otter rota", KEYWORD) == []


def test_a_file_over_its_parse_budget_is_reported_and_the_run_goes_on(tmp_path, engine, fake_embedder, searcher):
    good = write(tmp_path / "kb" / "good.md", "# Good\n\nThe lemur badge opens door 4.\n")
    write(tmp_path / "kb" / "slow.md", SLOW_MARKDOWN)
    hasty = Indexer(engine, fake_embedder, max_file_bytes=5_000_000, parse_seconds=1)
    started = time.monotonic()
    report = within(60, hasty.index_paths, [tmp_path / "kb"], "docs")
    assert reasons(report) == {"slow.md": "took longer than 1 s to parse"}
    assert report.added == [str(good)] and time.monotonic() - started < 6
    assert searcher.search("lemur badge", KEYWORD)[0].title == "Good"


def test_a_cancelled_run_stops_during_a_slow_file_and_removes_nothing(tmp_path, engine, fake_embedder):
    kb = tmp_path / "kb"
    write(kb / "a.md", "# A\n\nalpha\n")
    gone = write(kb / "b.md", "# B\n\nbravo\n")
    indexer = Indexer(engine, fake_embedder, max_file_bytes=5_000_000, parse_seconds=60)
    indexer.index_paths([kb], "docs")
    gone.unlink()
    write(kb / "slow.md", SLOW_MARKDOWN)
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    report = within(30, indexer.index_paths, [kb], "docs", cancel=cancel)
    assert report.stopped and report.removed == [] and report.failed == []
    assert "nothing was removed" in report.warnings[0]


@contextmanager
def cli_env(tmp_path: Path, database_url, monkeypatch):
    """``bot.cli.main`` against the test database, with no .env, restoring the SIGTERM handler it sets."""
    import signal

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", database_url.render_as_string(hide_password=False))
    monkeypatch.setenv("KB_DATA_DIR", str(tmp_path / "unused"))
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_index_from_the_command_line_keeps_an_emptied_folder_unless_allow_empty(tmp_path, engine, database_url,
                                                                                monkeypatch, capsys):
    import json

    from bot.cli import main

    with cli_env(tmp_path, database_url, monkeypatch):
        kb = tmp_path / "kb"
        write(kb / "a.md", "# A\n\nThe badger gate closes at six.\n")
        assert main(["index", str(kb), "--collection", "team"]) == 0
        (kb / "a.md").unlink()
        capsys.readouterr()

        assert main(["index", str(kb), "--collection", "team"]) == 1
        assert f"{kb} is empty: kept its 1 document; pass --allow-empty to remove them" in capsys.readouterr().err

        assert main(["index", str(kb), "--collection", "team", "--allow-empty", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert (report["removed"], report["kept"], report["warnings"]) == (1, 0, [])


def test_the_page_limit_is_a_setting_and_its_message_says_how_to_raise_it(tmp_path, database_url, monkeypatch,
                                                                           capsys):
    import json

    from bot.cli import main
    from tests.pdf import make_pdf

    pdf = write(tmp_path / "kb" / "manual.pdf", make_pdf(["one", "two", "three"]))
    write(tmp_path / "kb" / "good.md", "# Good\n\nalpha\n")
    monkeypatch.setenv("MAX_FILE_PAGES", "2")
    with cli_env(tmp_path, database_url, monkeypatch):
        assert main(["index", str(tmp_path / "kb"), "--collection", "team", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 1 and report["failures"] == [
        {"source": str(pdf), "reason": "too many pages: 3, the limit is 2 (raise MAX_FILE_PAGES to index it)"}]


class Responses:
    """The Slack response_url edge: records what the bot said."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, text: str, response_type: str = "ephemeral", **_) -> None:
        with self.changed:
            self.texts.append(text)
            self.changed.notify_all()

    def wait_for(self, count: int, seconds: float) -> list[str]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.texts) >= count, seconds), self.texts
            return list(self.texts)


def test_a_stuck_reindex_is_stopped_at_its_deadline_and_frees_the_lock(tmp_path, engine, fake_embedder):
    import json

    from bot.settings import Settings
    from bot.slack.admin import Admin
    from bot.slack.visibility import Visibility

    write(tmp_path / "kb" / "slow.md", SLOW_MARKDOWN)
    settings = Settings(_env_file=None, kb_sources=json.dumps({"team": [str(tmp_path / "kb")]}))
    patient = Indexer(engine, fake_embedder, max_file_bytes=5_000_000, parse_seconds=600)
    admin = Admin(settings.slack_config, engine, lambda: patient, Visibility({}, None), reindex_seconds=1,
                  drain_seconds=5)
    said = Responses()
    admin.reindex("UADMIN", "team", said)
    texts = said.wait_for(2, 20)
    assert texts[0] == "Reindexing team in the background…"
    assert texts[1].startswith("Reindex stopped: it exceeded 1 second.")

    admin.reindex("UADMIN", "team", said)  # the lock was freed: not "already running"
    assert said.wait_for(3, 5)[2] == "Reindexing team in the background…"
    started = time.monotonic()
    admin.background.shutdown(wait=True)  # stops the second run at its slow file
    assert time.monotonic() - started < 5
    assert said.wait_for(4, 5)[3].startswith("Reindex stopped early: the bot is shutting down.")


def test_an_emptied_source_is_kept_and_reindex_says_why(tmp_path, engine, fake_embedder):
    import json

    from bot.settings import Settings
    from bot.slack.admin import Admin
    from bot.slack.visibility import Visibility

    kb = tmp_path / "kb"
    doc = write(kb / "a.md", "# A\n\nalpha\n")
    Indexer(engine, fake_embedder).index_paths([kb], "team")
    doc.unlink()
    settings = Settings(_env_file=None, kb_sources=json.dumps({"team": [str(kb)]}))
    admin = Admin(settings.slack_config, engine, lambda: Indexer(engine, fake_embedder), Visibility({}, None))
    said = Responses()
    admin.reindex("UADMIN", None, said)
    summary = said.wait_for(2, 30)[1]
    assert "*team*: 0 added, 0 updated, 0 unchanged, 0 removed, 0 failed" in summary
    assert f"`{kb}` is empty: kept its 1 document." in summary and "--allow-empty" in summary
    admin.background.shutdown()


def test_a_kb_sources_entry_linking_to_a_secret_is_refused_and_what_it_leaked_is_removed(tmp_path, engine,
                                                                                         fake_embedder, searcher):
    import json

    from bot.settings import Settings
    from bot.slack.admin import Admin
    from bot.slack.visibility import Visibility

    secret = write(tmp_path / "srv" / "app.env", "DB_PASSWORD=zebracorn-hunter2\n")
    kb = tmp_path / "kb"
    write(kb / "a.md", "# A\n\nThe heron pond is behind building C.\n")
    (tmp_path / "extra.md").symlink_to(secret)
    indexer = Indexer(engine, fake_embedder)
    # what an earlier version indexed through the link: the secret, under its own path
    indexer.index_items([SourceItem(str(secret), "markdown", path=secret)], "team")
    assert searcher.search("zebracorn", KEYWORD)
    settings = Settings(_env_file=None, kb_sources=json.dumps({"team": [str(kb), str(tmp_path / "extra.md")]}))
    admin = Admin(settings.slack_config, engine, lambda: indexer, Visibility({}, None))
    said = Responses()
    admin.reindex("UADMIN", "team", said)
    summary = said.wait_for(2, 30)[1]
    assert "*team*: 1 added, 0 updated, 0 unchanged, 1 removed, 1 failed" in summary
    assert f"✗ extra.md: a link to a file outside the sources ({secret}); not indexed" in summary
    assert searcher.search("zebracorn", KEYWORD) == []
    assert searcher.search("heron pond", KEYWORD)[0].title == "A"
    admin.background.shutdown()


def test_a_stuck_admin_job_does_not_keep_the_process_alive(tmp_path):
    import subprocess
    import sys

    script = ("import threading\nfrom bot.slack.background import Background\n"
              "jobs = Background(drain_seconds=0.5)\njobs.submit(threading.Event().wait)  # never returns\n"
              "jobs.shutdown(wait=True)\nprint('exited')\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout.strip()) == (0, "exited"), done.stderr


def test_a_parser_stuck_on_a_file_does_not_outlive_the_process_that_started_it(tmp_path):
    import subprocess
    import sys

    slow = write(tmp_path / "slow.md", SLOW_MARKDOWN * 5)
    script = ("import os, sys, threading, time\nfrom pathlib import Path\n"
              "from retrieval.parse_worker import ParseWorker\n"
              "worker = ParseWorker(budget=600)\n"
              f"data = Path({str(slow)!r}).read_bytes()\n"
              "threading.Thread(target=worker.parse, args=(data, 'markdown', 'slow.md'), daemon=True).start()\n"
              "while worker._process is None: time.sleep(0.05)\n"
              "print(worker._process.pid, flush=True)\ntime.sleep(1)\nos._exit(0)  # dies without cleaning up\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    child = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(child) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running(child)


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait() is missing
