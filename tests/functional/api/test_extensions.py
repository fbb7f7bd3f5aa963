"""``GET /extensions`` and ``GET /extensions/{alias}``: Nova's extension descriptions of
the features nubis serves -- made from the routes the API serves, so every entry is
backed by a served route and a feature nubis lacks is not listed.
"""

from __future__ import annotations

import datetime

from nubis.core.api.resources import extensions
from nubis.core.api.resources.servers import SERVER
from nubis.core.api.routing import Route
from tests.functional.api.conftest import Cloud

KEYS = {"name", "alias", "description", "namespace", "updated", "links"}


def test_the_list_describes_what_nubis_serves(cloud: Cloud) -> None:
    response = cloud.client("alice").get("/v2.1/extensions")
    assert response.status_code == 200, response.text
    listed = response.json()["extensions"]
    assert set(response.json()) == {"extensions"}
    aliases = [e["alias"] for e in listed]
    assert aliases == sorted(aliases) and len(set(aliases)) == len(aliases)
    for entry in listed:
        assert set(entry) == KEYS
        assert entry["links"] == [] and entry["namespace"].startswith("http")
        datetime.datetime.strptime(entry["updated"], "%Y-%m-%dT%H:%M:%SZ")
        assert entry["name"] and entry["description"]
    names = {e["alias"]: e["name"] for e in listed}
    for alias, name in (
        ("os-hosts", "Hosts"),
        ("os-keypairs", "Keypairs"),
        ("os-aggregates", "Aggregates"),
        ("os-availability-zone", "AvailabilityZone"),
        ("os-flavor-access", "FlavorAccess"),
        ("os-flavor-extra-specs", "FlavorExtraSpecs"),
        ("os-hypervisors", "Hypervisors"),
        ("os-quota-sets", "Quotas"),
        ("os-lock-server", "LockServer"),
        ("os-server-external-events", "ServerExternalEvents"),
        ("os-console-output", "ConsoleOutput"),
        ("os-services", "Services"),
    ):
        assert names.get(alias) == name, alias
    # every entry is backed by a route the API serves, and only those are listed
    served = extensions.served_keys(cloud.api.app.routes)
    by_alias = {e.alias: e for e in extensions.EXTENSIONS}
    assert set(names) == {e.alias for e in extensions.EXTENSIONS if served & set(e.routes)}
    assert all(served & set(by_alias[alias].routes) for alias in names)
    # nubis has no interactive consoles
    assert "os-consoles" not in names


def test_show_one_or_404(cloud: Cloud) -> None:
    bob = cloud.client("bob")
    listed = {e["alias"]: e for e in bob.get("/v2.1/extensions").json()["extensions"]}
    shown = bob.get("/v2.1/extensions/os-keypairs")
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"extension": listed["os-keypairs"]}
    assert bob.get("/v2.1/extensions/OS-EXT-STS").json()["extension"]["name"] == "ExtendedStatus"
    for missing in ("os-no-such-thing", "os-consoles", "keypairs"):
        response = bob.get(f"/v2.1/extensions/{missing}")
        assert response.status_code == 404, response.text
        assert "itemNotFound" in response.json()
    assert bob.get("/v2.1/extensions/").status_code == 404  # an empty alias
    assert cloud.client(None).get("/v2.1/extensions").status_code == 401


def test_a_feature_appears_when_its_routes_are_served() -> None:
    def handler(req: object, **kw: object) -> None:
        return None

    served = [
        Route("GET", "/v2.1/os-keypairs", handler, "k"),
        Route("POST", f"{SERVER}/action", handler, "p", action="pause"),
    ]
    catalog = extensions.Extensions(served)
    assert list(catalog.views()) == ["os-keypairs", "os-pause-server"]
    assert catalog.views()["os-pause-server"]["name"] == "PauseServer"
    assert list(extensions.Extensions([]).views()) == []
