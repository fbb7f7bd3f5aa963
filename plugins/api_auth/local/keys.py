"""The token signing key: read from ``[local_auth] token_key_file``, created once."""

from __future__ import annotations

import os
import secrets

from nubis.core import exception


def load_or_create_key(path: str) -> bytes:
    """The signing key in *path*, creating a random one (mode 0600) if it is missing.

    Publishing is atomic (a temporary file hard-linked into place), so processes
    starting together all end up with the one key.
    """
    for _ in range(50):
        try:
            with open(path, "rb") as f:
                text = f.read().strip()
            if len(text) >= 32:
                return text
            raise exception.ConfigurationError(
                option="[local_auth] token_key_file",
                reason=f"{path} holds {len(text)} bytes; a key needs at least 32",
            )
        except FileNotFoundError:
            pass
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(32).encode())
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    raise exception.ConfigurationError(
        option="[local_auth] token_key_file", reason=f"could not create or read {path}"
    )
