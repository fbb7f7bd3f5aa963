"""Exceptions the conformance endpoints raise.

This module is in the transports' ``allowed_remote_exmods``: its exceptions are
re-raised on the caller as the same class. ``harness.NotAllowedError`` is not,
and must come back as ``oslo_messaging.RemoteError``.
"""


class ConformanceError(Exception):
    """Raised by an endpoint; its module is allowed to cross the wire."""
