"""Exceptions only the API service raises: authentication, policy and microversions.

They derive from :mod:`nubis.core.exception`'s classes, carry the HTTP ``code`` the API
answers with, and follow the same one-line message rule. The image registry's and the
local identity service's exceptions are in :mod:`nubis.core.exception` with every other
domain exception, because the DB API raises them.
"""

from nubis.core import exception


class Unauthorized(exception.NubisException):
    code = 401
    msg_fmt = "%(reason)s"


class Forbidden(exception.NubisException):
    code = 403
    msg_fmt = "%(reason)s"


class PolicyNotAuthorized(Forbidden):
    msg_fmt = "policy does not allow %(action)s to be performed"


class InvalidMicroversion(exception.Invalid):
    msg_fmt = "%(reason)s"


class UnsupportedMicroversion(exception.NubisException):
    code = 406
    msg_fmt = "%(reason)s"


class RetryLater(exception.NubisException):
    """A refusal the client may retry after ``retry_after`` seconds (a ``Retry-After``
    header): 429 when the client sends too much, 503 when the service is saturated."""

    code = 503
    msg_fmt = "%(reason)s"

    def __init__(self, message: str | None = None, retry_after: int = 1, **kwargs: object):
        super().__init__(message, **kwargs)
        self.retry_after = max(1, int(retry_after))


class TooManyRequests(RetryLater):
    code = 429


class ServiceBusy(RetryLater):
    code = 503
