"""``noauth``: trust the token to say who the caller is. For development only.

The token (``X-Auth-Token``) is ``USER:PROJECT`` (or ``USER``, with the project of the
same name). The user ``admin`` has the roles admin, member and reader; anyone else has
member and reader. Without a token the caller is anonymous.

Anyone who can reach the port can claim to be ``admin``, so the plugin refuses to serve
on anything but a loopback address unless ``[api] noauth_allow_remote`` is set.
"""

from __future__ import annotations

from typing import Any

from nubis.core import exception
from nubis.core.api import auth

ADMIN_ROLES = ("admin", "member", "reader")
MEMBER_ROLES = ("member", "reader")


class NoAuth(auth.AuthPlugin):
    """See the module docstring."""

    def middleware(self, app: auth.WSGIApp) -> auth.WSGIApp:
        def identify(environ: dict[str, Any], start_response: Any) -> Any:
            token = environ.get("HTTP_X_AUTH_TOKEN", "").strip()
            user, _, project = token.partition(":")
            user, project = user.strip(), (project.strip() or user.strip())
            if user and project and len(user) <= 255 and len(project) <= 255:
                auth.set_identity(
                    environ,
                    user_id=user,
                    user_name=user,
                    project_id=project,
                    project_name=project,
                    roles=ADMIN_ROLES if user == "admin" else MEMBER_ROLES,
                )
            else:
                auth.set_invalid(environ)
            return app(environ, start_response)

        return identify

    def check_listen(self, address: str) -> None:
        if auth.is_loopback(address) or self.conf.api.noauth_allow_remote:
            return
        raise exception.ConfigurationError(
            option="[api] listen",
            reason=f"auth_strategy noauth trusts any caller to say who they are, so it "
            f"serves on loopback only, not {address}; listen on 127.0.0.1, choose "
            "auth_strategy local, or set [api] noauth_allow_remote = true",
        )

    def www_authenticate(self) -> str | None:
        return 'Token realm="nubis noauth: send X-Auth-Token USER:PROJECT"'
