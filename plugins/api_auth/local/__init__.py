"""``local``: the embedded identity service, nubis-api's default authentication.

nubis-api serves a minimal Identity v3 API under ``/identity``, enough for a normal
``clouds.yaml`` with password authentication (keystoneauth, openstacksdk, the
``openstack`` CLI) and for keystonemiddleware's token validation:

* ``GET /identity`` and ``GET /identity/v3``: version discovery;
* ``POST /identity/v3/auth/tokens``: password (or token) authentication scoped to a
  project; answers 201 with the token in ``X-Subject-Token`` and a service catalog
  whose compute, image and identity endpoints point at this nubis-api;
* ``GET``/``HEAD /identity/v3/auth/tokens``: validate ``X-Subject-Token`` (for the token's
  own user, administrators and the ``service`` role);
* Identity v3 management of domains (only ``default``), projects, users, roles and role
  assignments, with Keystone's default policy (:mod:`.v3_api`, on
  :mod:`nubis.core.api.identity_admin`).

Users, projects and roles live in the database (:mod:`nubis.core.api.identity`,
``nubis-manage user ...``). Tokens are JWTs (PyJWT, HS256) signed with the key in
``[local_auth] token_key_file`` (created on first start, mode 0600; every nubis-api of a
deployment must share it), expiring after ``[local_auth] token_expiration`` seconds.
Each request's token is checked against the user's current state: a deleted or
disabled user, a changed password, or a removed role, stops counting within
``[local_auth] identity_cache_seconds``.

Tokens as Keystone has them: renewing a token (the ``token`` method) gives a token that
expires when the original does, never later, so a token cannot be renewed for ever;
changing a user's password or disabling the user revokes the tokens issued before.

Password authentication is throttled three ways (:mod:`nubis.core.api.identity` has the
first two): per user, Keystone's lockout (``lockout_failure_attempts`` failures lock the
user for ``lockout_duration`` seconds); per process, at most
``password_hash_concurrency`` argon2 checks at once (64 MiB each), a check that cannot
start within ``password_hash_wait`` seconds answered 503 with ``Retry-After``; per
client address, ``address_failure_attempts`` failed password authentications within
``address_failure_window`` seconds make further ones from that address answer 429 with
``Retry-After`` until the oldest leaves the window (behind a proxy, every client is the
proxy's address: raise the limit or throttle at the proxy).
"""

from nubis.plugins.api_auth.local.keys import load_or_create_key
from nubis.plugins.api_auth.local.options import list_opts, register_opts
from nubis.plugins.api_auth.local.plugin import LocalAuth
from nubis.plugins.api_auth.local.throttle import AddressThrottle

__all__ = ["AddressThrottle", "LocalAuth", "list_opts", "load_or_create_key", "register_opts"]
