"""Our exceptions: one tree with one root, so an edge can catch "our errors" and nothing else.

    KBError                      one of ours; the message says what to change
    ├── InvalidInput             bad settings, arguments or input a user can fix (also a ValueError)
    ├── DatabaseError            PostgreSQL could not be reached or prepared (also a RuntimeError)
    ├── ModelError               a model backend failed (also a RuntimeError)
    │   └── ModelUnavailable     could not be reached or did not answer in time (worth falling back)
    ├── DocumentError            documents could not be indexed
    │   └── UnreadableFile       one file cannot be indexed; the message is the reason
    └── Cancelled                a run was cancelled while a file was being parsed

InvalidInput stays a ValueError because pydantic reports only ValueErrors (and assertions) raised
while validating as a validation error naming the setting; DatabaseError and ModelError keep the
RuntimeError base they always had.

Foreign errors are converted where they enter (``raise ModelError(...) from exc``). One error stays
outside the tree on purpose: ``models.deadline.DeadlinePassed`` must be an httpx/httpcore timeout for
the HTTP clients to handle it; ``models.chat.invoke_chat`` turns it into ModelUnavailable.
"""


class KBError(Exception):
    """Base of every error of ours; ``str(exc)`` is a message for the user that says what to change."""


class InvalidInput(KBError, ValueError):
    """A setting, argument or input file is wrong; the user can fix it."""


class DatabaseError(KBError, RuntimeError):
    """The database could not be reached or prepared; the message says how to fix it."""


class ModelError(KBError, RuntimeError):
    """A model backend failed; the message says what to change to fix it."""


class ModelUnavailable(ModelError):
    """The model could not be reached or did not answer in time (worth falling back)."""


class DocumentError(KBError):
    """Documents could not be indexed."""


class UnreadableFile(DocumentError):
    """The file cannot be indexed; ``str(exc)`` is a short reason for the user."""


class Cancelled(KBError):
    """The run was cancelled while a file was being parsed."""
