"""The answering pipeline: rewrite, route, retrieve, generate, cite. No Slack in here."""
