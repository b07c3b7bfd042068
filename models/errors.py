"""The models' errors: one root, so callers can catch "a model failed" and nothing else.

    ModelError               a backend failed; the message says what to change
    └── ModelUnavailable     could not be reached or did not answer in time (worth falling back)
"""


class ModelError(RuntimeError):
    """A model backend failed; the message says what to change to fix it."""


class ModelUnavailable(ModelError):
    """The model could not be reached or did not answer in time (worth falling back)."""
