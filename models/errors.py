class ModelError(RuntimeError):
    """A model backend failed; the message says what to change to fix it."""
