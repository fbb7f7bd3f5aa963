"""``[local_auth]``: the options of the embedded identity service."""

from __future__ import annotations

from oslo_config import cfg

GROUP = cfg.OptGroup("local_auth", title="The embedded identity service (auth_strategy local)")

OPTS = [
    cfg.IntOpt(
        "token_expiration",
        default=3600,
        min=60,
        help="Seconds a token is valid for after it is issued.",
    ),
    cfg.StrOpt(
        "token_key_file",
        default="$state_path/local-auth-token.key",
        help="File holding the key tokens are signed with; created (mode 0600) when "
        "missing. Every nubis-api of a deployment must read the same key.",
    ),
    cfg.FloatOpt(
        "identity_cache_seconds",
        default=5.0,
        min=0,
        help="How long a user's enabled state, roles and token revocation time are "
        "trusted before the database is asked again: a deleted or disabled user's "
        "tokens, and tokens issued before a password change, stop working within this "
        "time.",
    ),
    cfg.IntOpt(
        "lockout_failure_attempts",
        default=10,
        min=0,
        help="Consecutive failed password checks after which a user is locked out for "
        "lockout_duration seconds, even with the right password (Keystone's "
        "[security_compliance] option of the same name). 0 disables lockout. A lock is "
        "lifted early by `nubis-manage user enable` or a new password.",
    ),
    cfg.IntOpt(
        "lockout_duration",
        default=300,
        min=0,
        help="Seconds a locked-out user stays locked after the last failed check "
        "(Keystone's option of the same name); 0 keeps the user locked until an "
        "administrator runs `nubis-manage user enable` or sets a new password.",
    ),
    cfg.IntOpt(
        "address_failure_attempts",
        default=20,
        min=0,
        help="Failed password authentications one client address may make within "
        "address_failure_window seconds; further attempts from it are answered 429 with "
        "Retry-After, without checking the password. 0 disables this throttle.",
    ),
    cfg.IntOpt(
        "address_failure_window",
        default=60,
        min=1,
        help="The sliding window, in seconds, of address_failure_attempts.",
    ),
    cfg.IntOpt(
        "password_hash_concurrency",
        default=2,
        min=1,
        help="Password hash computations (argon2id: 64 MiB of memory and a few tens of "
        "milliseconds of CPU each) one nubis-api runs at once; further ones wait.",
    ),
    cfg.FloatOpt(
        "password_hash_wait",
        default=5.0,
        min=0,
        help="Seconds an authentication waits for a password hash slot before it is "
        "answered 503 with Retry-After.",
    ),
]


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """``[local_auth]`` (entry point ``oslo.config.opts: nubis.api.auth.local``)."""
    return [(GROUP.name, list(OPTS))]


def register_opts(conf: cfg.ConfigOpts) -> None:
    conf.register_group(cfg.OptGroup(GROUP.name, title=GROUP.title))
    conf.register_opts(OPTS, group=GROUP.name)
