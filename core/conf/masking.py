"""Secrets out of messages: the one place nubis masks passwords in URLs and text.

:func:`mask_url` hides the password of a URL (``rabbit://user:***@host:5672/``,
``postgresql://nubis:***@db/nubis``) and secret query parameters (``?password=***``);
:func:`mask` does the same for every URL inside a free text, such as an exception
message. Both work on strings that do not parse as URLs too (a malformed URL is exactly
what an error message quotes), and mask too much rather than too little: everything
between the user name and the last ``@`` of the URL.

Every message nubis prints or logs about a transport or database URL goes through
them; :func:`nubis.core.cmd.common.fail` masks every one-line error it prints.
"""

from __future__ import annotations

import re

MASK = "***"

# A URL inside free text: a scheme, "://", and everything up to a blank or a quote.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]*")
# user:password@ right after "://" -- greedy to the last "@", so that a password
# holding "@", "/" or "," is masked whole.
_USERINFO = re.compile(r"(?P<lead>://)(?P<user>[^:@/\s]*):(?P<secret>[^\s]*)@")
_SECRET_QUERY = re.compile(
    r"(?i)(?P<key>[?&;](?:password|passwd|pass|pwd|secret|token|api_key|apikey)=)[^&;#\s]*"
)


def mask_url(url: str) -> str:
    """Return *url* with its password (and secret query parameters) replaced by ***."""
    masked = _USERINFO.sub(lambda m: f"{m['lead']}{m['user']}:{MASK}@", str(url))
    return _SECRET_QUERY.sub(lambda m: f"{m['key']}{MASK}", masked)


def mask(text: str) -> str:
    """Return *text* with every URL in it masked by :func:`mask_url`."""
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group(0)), str(text))
