"""The configured quota defaults are Nova's, resource for resource."""

from types import SimpleNamespace

from nubis.core import quota
from nubis.core.conf import quota as quota_opts


def test_configured_defaults_are_novas():
    # the option defaults themselves: the suite's CONF overrides some of them
    options = {opt.name: opt.default for opt in quota_opts.OPTS}
    conf = SimpleNamespace(quota=SimpleNamespace(**options))
    assert quota.configured_defaults(conf) == {
        "instances": 10,
        "cores": 20,
        "ram": 51200,
        "metadata_items": 128,
        "injected_files": 5,
        "injected_file_content_bytes": 10240,
        "injected_file_path_bytes": 255,
        "key_pairs": 100,
        "server_groups": 10,
        "server_group_members": 10,
        "fixed_ips": -1,
        "floating_ips": -1,
        "security_groups": -1,
        "security_group_rules": -1,
    }
    assert options["recheck_quota"] is True
