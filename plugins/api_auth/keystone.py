"""``keystone``: tokens are validated by a Keystone server through keystonemiddleware.

keystonemiddleware's ``auth_token`` middleware wraps the API, configured by the
``[keystone_authtoken]`` section of nubis's configuration (``www_authenticate_uri``,
``auth_url``, ``auth_type = password``, ``username``, ``password``, ``project_name``,
``user_domain_name``, ``project_domain_name``, ``memcached_servers``, ...; see
keystonemiddleware's documentation). nubis runs it with ``delay_auth_decision`` so that
version documents stay public: a request without a valid token reaches the API marked
``X-Identity-Status: Invalid`` and gets the API's own 401.

Needs the ``keystone`` extra (``pip install nubis[keystone]``).
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import auth


class KeystoneAuth(auth.AuthPlugin):
    """See the module docstring."""

    def middleware(self, app: auth.WSGIApp) -> auth.WSGIApp:
        try:
            from keystonemiddleware import auth_token
        except ImportError as exc:
            raise exception.ConfigurationError(
                option="[api] auth_strategy",
                reason=f"keystone needs keystonemiddleware ({exc}); install nubis[keystone]",
            ) from exc
        settings: dict[str, Any] = {
            "oslo_config_config": self.conf,
            "delay_auth_decision": "true",
            "log_name": "nubis.keystonemiddleware",
        }
        middleware: auth.WSGIApp = auth_token.AuthProtocol(app, settings)
        return middleware

    def www_authenticate(self) -> str | None:
        # keystonemiddleware adds its own challenge (www_authenticate_uri) to every 401.
        return None
