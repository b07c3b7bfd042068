"""Slack edge: settings, app wiring, listeners, Block Kit builders and the CLI."""
