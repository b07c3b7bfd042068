"""What people said: the interaction log, votes and comments, the approved-answer cache, exports.

The only package that writes ``interactions``, ``feedback`` and ``cached_answers``
(``tests/test_feedback_owner.py`` keeps it so). Imports ``retrieval`` and ``models``, never
``answering`` or ``bot``.
"""
