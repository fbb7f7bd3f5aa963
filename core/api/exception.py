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


class VersionNotFound(exception.NotFound):
    msg_fmt = "%(reason)s"


class InvalidMicroversion(exception.Invalid):
    msg_fmt = "%(reason)s"


class UnsupportedMicroversion(exception.NubisException):
    code = 406
    msg_fmt = "%(reason)s"
