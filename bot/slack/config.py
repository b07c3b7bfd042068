"""What the Slack edge needs from the settings, and nothing else: built by ``Settings.slack_config``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from core.links import TrustedHosts


@dataclass(frozen=True)
class SlackConfig:
    """Tokens, who may run /kb, which channel sees which collection, reindex sources, the answer
    queue, onboarding examples, and the model-routing facts `/kb status` prints."""

    bot_token: str = ""
    signing_secret: str = ""
    app_token: str = ""  # set: Socket Mode is possible, so HTTP needs no signing secret
    api_url: str = "https://slack.com/api/"
    admin_users: tuple[str, ...] = ()
    # collection -> the channels it is bound to (bot.slack.visibility applies it)
    channel_collections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    kb_sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # collection -> paths
    workers: int = 4
    queue_limit: int = 100
    streaming: bool = True  # stream the model's draft into Slack while answering (falls back where refused)
    user_questions_per_minute: int = 10  # fair use: more from one person are refused, once, politely (0: no limit)
    example_questions: tuple[str, ...] = ()
    link_hosts: TrustedHosts = TrustedHosts()  # answers link live only to these hosts (LINK_DOMAINS)
    # for /kb status only: routing itself is the pipeline's
    model_policy: str = "auto"
    hosted_model: str = ""
    local_model_path: str = ""
    confidential_collections: tuple[str, ...] = ()
    flagged_documents: str = "answer"  # "exclude": flagged documents are left out of answers
    redact_stored: bool = True  # comments are stored with personal data redacted
    retention_days: int = 0  # the server purges the log daily, keeping this many days (0: keeps all)
