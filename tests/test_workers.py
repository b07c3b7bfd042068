"""The bounded answer pool (at most size + limit questions accepted; shutdown finishes them all) and
the in-memory record of messages already taken."""

from __future__ import annotations

import threading

from bot.slack.line import Recent
from bot.slack.workers import Workers


def test_pool_refuses_work_beyond_its_bound_and_drains_on_shutdown():
    release = threading.Event()
    done: list[int] = []
    workers = Workers(size=2, limit=1)

    def job(i: int):
        return lambda: (release.wait(30), done.append(i))

    assert all(workers.submit(job(i)) for i in range(3))
    assert workers.submit(job(99)) is False  # 2 running + 1 waiting: full
    stopper = threading.Thread(target=workers.shutdown, kwargs={"wait": True})
    stopper.start()
    stopper.join(0.2)
    assert stopper.is_alive()  # shutdown waits for the accepted questions …
    assert workers.submit(job(100)) is False  # … and takes no new ones
    release.set()
    stopper.join(30)
    assert not stopper.is_alive() and sorted(done) == [0, 1, 2]


def test_a_failing_job_frees_its_slot():
    workers = Workers(size=1, limit=0)
    assert workers.submit(lambda: 1 / 0)
    assert workers.wait_idle(10)
    assert workers.submit(lambda: None)
    workers.shutdown()


def test_full_says_when_submit_would_refuse():
    release = threading.Event()
    workers = Workers(size=1, limit=1)
    assert not workers.full()
    assert workers.submit(lambda: release.wait(30)) and not workers.full()
    assert workers.submit(lambda: None) and workers.full()
    assert workers.submit(lambda: None) is False
    release.set()
    assert workers.wait_idle(10) and not workers.full()
    workers.shutdown()
    assert workers.full()  # shutting down takes nothing more


def test_the_pool_counts_the_jobs_it_has_not_finished():
    release = threading.Event()
    workers = Workers(size=1, limit=5)
    assert workers.submit(lambda: release.wait(30)) and workers.submit(lambda: None)
    assert workers.pending() == 2 > workers.size  # one runs, one waits for the worker
    release.set()
    assert workers.wait_idle(10) and workers.pending() == 0
    workers.shutdown()


def test_recent_messages_are_taken_once_and_a_conditional_ask_never_hides_a_mention():
    recent = Recent(size=2)
    assert recent.first(("C", "1")) and not recent.first(("C", "1"))
    assert not recent.first(("C", "1"), conditional=True)  # a mention taken: its message event is a duplicate
    assert recent.first(("C", "2"), conditional=True) and not recent.first(("C", "2"), conditional=True)
    assert recent.first(("C", "2"))  # the thread reply may not be ours; the mention of it still counts
    assert not recent.first(("C", "2"))
    assert recent.first(("C", "3")) and recent.first(("C", "1"))  # bounded: the oldest is forgotten
