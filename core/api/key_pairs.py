"""Key material of the compute API's key pairs: checking a public key or certificate
a user imports, its fingerprint, and making a new pair when the user gives none.

* ``ssh``: an OpenSSH public key line (``ssh-rsa AAAA... comment``, also ed25519 and
  ECDSA); the fingerprint is the MD5 of the key blob in colon-separated hex, as Nova's
  (and ``ssh-keygen -E md5 -l``'s) is;
* ``x509``: a PEM certificate; the fingerprint is the SHA-1 of its DER form.

A generated pair is a 2048-bit RSA key: the private key in PEM (returned once, never
stored) and the public key as an OpenSSH line, or a self-signed certificate for
``x509``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from nubis.core import exception

TYPES = ("ssh", "x509")
MAX_PUBLIC_KEY_LENGTH = 65535
_GENERATED_COMMENT = "Generated-by-nubis"


@dataclasses.dataclass(frozen=True)
class KeyMaterial:
    """A public key (or certificate) with its fingerprint; *private_key* only when
    nubis made the pair."""

    public_key: str
    fingerprint: str
    private_key: str | None = None


def _colon_hex(digest: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in digest)


def fingerprint(public_key: str, key_type: str = "ssh") -> str:
    """The fingerprint of *public_key*; InvalidKeypair when it is not a key of
    *key_type* this module can read."""
    if len(public_key) > MAX_PUBLIC_KEY_LENGTH:
        raise exception.InvalidKeypair(
            reason=f"the public key is longer than {MAX_PUBLIC_KEY_LENGTH} characters"
        )
    if key_type == "x509":
        try:
            certificate = x509.load_pem_x509_certificate(public_key.encode())
        except (ValueError, UnicodeEncodeError):
            raise exception.InvalidKeypair(
                reason="failed to generate fingerprint: not a PEM X.509 certificate"
            ) from None
        return _colon_hex(certificate.fingerprint(hashes.SHA1()))  # noqa: S303 -- Nova's
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (ValueError, IndexError, UnicodeEncodeError, binascii.Error):
        raise exception.InvalidKeypair(
            reason="failed to generate fingerprint: not an OpenSSH public key "
            "(e.g. 'ssh-ed25519 AAAA... comment')"
        ) from None
    return _colon_hex(hashlib.md5(blob, usedforsecurity=False).digest())


def generate(key_type: str, user_id: str) -> KeyMaterial:
    """A new key pair of *key_type* for *user_id* (see the module docstring)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    if key_type == "x509":
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user_id or "nubis")])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        public = certificate.public_bytes(serialization.Encoding.PEM).decode()
    else:
        openssh = key.public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        )
        public = f"{openssh.decode()} {_GENERATED_COMMENT}\n"
    return KeyMaterial(public, fingerprint(public, key_type), private_pem)
