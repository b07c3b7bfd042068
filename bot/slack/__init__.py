"""The Slack edge: the bolt app, its listeners (one module per kind of interaction), Block Kit builders,
and the HTTP / Socket Mode servers. A Slack payload never travels past a listener: the listener turns
it into plain values (question, thread, user, channel) and the answer back into blocks."""
