"""The Tempest workspace of a run: ``etc/tempest.conf``, ``etc/accounts.yaml`` and the
``.stestr.conf`` that points stestr at the installed Tempest.

The configuration describes nubis as it is: the compute and image services only (no
networking, volumes or object storage), pre-provisioned accounts (nubis's identity
service has no project or user management API), and the compute features nubis does
not offer switched off -- consoles other than the console output, resize and cold
migration. With ``dynamic`` it lets Tempest make its own
projects and users through the identity API (for the classes that insist on fresh
ones) as the first admin account. Everything else keeps Tempest's default, so what
nubis lacks shows up as a failure rather than disappearing into a skip; what is
skipped is listed in expectations.txt with a reviewed reason all the same.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.tempest.deployment import Provisioned

TEMPEST_CONF = """\
# Written by tests/tempest/run_tempest.py for the nubis deployment at {url}.
[DEFAULT]
log_dir = {workspace}
log_file = tempest.log

[oslo_concurrency]
lock_path = {workspace}/locks

[auth]
{credentials}
default_credentials_domain_name = Default
create_isolated_networks = false
admin_domain_name = Default

[identity]
uri_v3 = {url}/identity/v3
auth_version = v3
region = {region}
v3_endpoint_type = public
admin_role = admin
default_domain_id = default

[identity-feature-enabled]
api_v2 = false
api_v3 = true
trust = false

[compute]
image_ref = {image}
image_ref_alt = {image_alt}
flavor_ref = {flavor}
flavor_ref_alt = {flavor_alt}
region = {region}
endpoint_type = publicURL
# The fake driver builds a server at once: a build still pending after a minute is stuck.
build_timeout = 60
build_interval = 1
min_compute_nodes = 2
min_microversion = {min_microversion}
max_microversion = {max_microversion}

[compute-feature-enabled]
console_output = true
vnc_console = false
spice_console = false
serial_console = false
resize = false
cold_migration = false
shelve_migrate = false
live_migration = true
block_migration_for_live_migration = false

[image]
region = {region}
endpoint_type = public
build_timeout = 60
build_interval = 1

[validation]
run_validation = false

[service_available]
nova = true
glance = true
neutron = false
cinder = false
swift = false
horizon = false
"""

STESTR_CONF = """\
[DEFAULT]
test_path={tempest_dir}/test_discover
top_dir={site_packages}
group_regex=([^\\.]*\\.)*
"""


def accounts_yaml(provisioned: Provisioned) -> str:
    """accounts.yaml for Tempest's pre-provisioned credential provider.

    Written as JSON, which is YAML: no YAML library is needed on this side.
    """
    lines = []
    for account in provisioned.accounts:
        entry = {
            "username": account.username,
            "project_name": account.project_name,
            "password": account.password,
            "roles": list(account.roles),
        }
        lines.append("- " + json.dumps(entry))
    return "\n".join(lines) + "\n"


def known_passwords(workspace: Path) -> dict[str, str]:
    """``{user: password}`` from the accounts.yaml a previous run wrote (empty if none)."""
    try:
        text = (workspace / "etc" / "accounts.yaml").read_text()
    except FileNotFoundError:
        return {}
    entries = (json.loads(line[2:]) for line in text.splitlines() if line.startswith("- {"))
    return {entry["username"]: entry["password"] for entry in entries}


def credentials(workspace: Path, provisioned: Provisioned, dynamic: bool) -> str:
    """The ``[auth]`` lines choosing pre-provisioned or dynamic credentials."""
    if not dynamic:
        return (
            f"use_dynamic_credentials = false\ntest_accounts_file = {workspace}/etc/accounts.yaml"
        )
    admin = next(a for a in provisioned.accounts if "admin" in a.roles)
    return (
        "use_dynamic_credentials = true\n"
        f"admin_username = {admin.username}\n"
        f"admin_password = {admin.password}\n"
        f"admin_project_name = {admin.project_name}"
    )


def write_workspace(
    workspace: Path,
    url: str,
    provisioned: Provisioned,
    tempest_dir: Path,
    region: str,
    dynamic: bool = False,
) -> Path:
    """Write the workspace files; returns the path of tempest.conf (mode 0600: with
    ``dynamic`` it holds an admin password)."""
    (workspace / "etc").mkdir(parents=True, exist_ok=True)
    (workspace / "locks").mkdir(exist_ok=True)
    accounts = workspace / "etc" / "accounts.yaml"
    accounts.write_text(accounts_yaml(provisioned))
    accounts.chmod(0o600)
    conf = workspace / "etc" / "tempest.conf"
    conf.write_text("")
    conf.chmod(0o600)
    conf.write_text(
        TEMPEST_CONF.format(
            credentials=credentials(workspace, provisioned, dynamic),
            url=url,
            workspace=workspace,
            region=region,
            image=provisioned.images[0],
            image_alt=provisioned.images[1],
            flavor=provisioned.flavors[0],
            flavor_alt=provisioned.flavors[1],
            min_microversion=provisioned.min_microversion,
            max_microversion=provisioned.max_microversion,
        )
    )
    (workspace / ".stestr.conf").write_text(
        STESTR_CONF.format(tempest_dir=tempest_dir, site_packages=tempest_dir.parent)
    )
    return conf
