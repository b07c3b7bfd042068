"""Admin: /kb, the App Home tab, and the curation modal under /kb feedback."""

from __future__ import annotations

import logging

from slack_bolt import App
from sqlalchemy.exc import SQLAlchemyError

from answering import prompts
from bot.slack import blocks
from bot.slack.answers import user_text
from bot.slack.listeners import Deps, as_int
from bot.slack.visibility import Audience
from retrieval.store import collection_summaries

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    """App Home, /kb and the curation modal."""
    answerer, admin, engine, visibility = deps.answerer, deps.admin, deps.engine, deps.visibility

    @app.action(blocks.CURATE)
    def on_curate(ack, body, client):
        ack()
        admin.open_curation(client, body["user"]["id"], as_int(body["actions"][0].get("value")),
                            body.get("trigger_id"))

    @app.view(blocks.CURATE_SUBMIT)
    def on_curated(ack, body, view, client):
        values = view.get("state", {}).get("values", {})
        answer = user_text((values.get("answer", {}).get("answer") or {}).get("value")).strip()
        if not answer:
            ack(response_action="errors", errors={"answer": "Write the answer people should get."})
            return
        ack()
        admin.save_curation(client, body["user"]["id"], as_int(view.get("private_metadata")), answer)

    @app.event("app_home_opened")
    def on_home(event, client):
        if event.get("tab") not in (None, "home") or not isinstance(event.get("user"), str):
            return
        answerer.notices.later(lambda: publish_home(client, event["user"]), "an App Home")

    def publish_home(client, user: str) -> None:
        """The App Home of ``user``; with the database down, one that says so."""
        sees = Audience.alone(user)  # the App Home is the user's own
        try:
            collections = [c for c in collection_summaries(engine) if visibility.sees(sees, c["name"])]
            view = blocks.home_view(collections, list(answerer.config.example_questions), answerer.popular(sees),
                                    admin.channel_lines(client, user))
        except SQLAlchemyError:
            log.warning("database unreachable: the App Home of %s says so", user, exc_info=True)
            view = blocks.home_unavailable_view(prompts.DATABASE_DOWN)
        client.views_publish(user_id=user, view=view)

    @app.command("/kb")
    def on_kb(ack, command, client, respond):
        user, text, channel = command["user_id"], user_text(command.get("text")), command.get("channel_id")
        if answerer.workers.submit(lambda: kb(client, user, text, respond, channel)):
            ack()
        else:  # said in the ack itself: no call to Slack while Slack waits for it
            ack(text="Too busy right now; please try again in a minute.", response_type="ephemeral")

    def kb(client, user: str, text: str, respond, channel: str | None) -> None:
        """/kb on a worker; with the database down it says so rather than nothing."""
        try:
            admin.command(client, user, text, respond, channel)
        except SQLAlchemyError:
            log.warning("database unreachable: /kb %s by %s not run", " ".join(text.split()[:1]), user, exc_info=True)
            respond(text=prompts.DATABASE_DOWN, response_type="ephemeral")
