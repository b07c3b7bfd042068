"""Admin: /kb, the App Home tab, and the curation modal under /kb feedback."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks
from bot.slack.answers import user_text
from bot.slack.listeners import Deps, as_int
from bot.slack.visibility import Audience
from retrieval.store import collection_summaries


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
        sees = Audience.alone(event["user"])  # the App Home is the user's own
        collections = [c for c in collection_summaries(engine) if visibility.sees(sees, c["name"])]
        view = blocks.home_view(collections, list(answerer.config.example_questions), answerer.popular(sees),
                                admin.channel_lines(client, event["user"]))
        client.views_publish(user_id=event["user"], view=view)

    @app.command("/kb")
    def on_kb(ack, command, client, respond):
        ack()
        user, text, channel = command["user_id"], user_text(command.get("text")), command.get("channel_id")
        if not answerer.workers.submit(lambda: admin.command(client, user, text, respond, channel)):
            respond(text="Too busy right now; please try again in a minute.", response_type="ephemeral")
