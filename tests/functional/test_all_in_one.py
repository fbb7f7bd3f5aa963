"""The embedded default, composed in this process from etc/nubis/all-in-one.conf itself:
conductor, scheduler, two compute hosts on libvirt's test driver and the REST API, over
inproc://. (The walkthrough test in tests/functional/api runs the real process.)

Every option of the shipped file is applied as an override (only ``state_path`` and the
bus name are moved to this test's own), so a change to the file is tested here.
"""

from __future__ import annotations

import configparser
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from nubis.core import exception, objects
from nubis.core.cmd.services import compose_all_in_one
from nubis.core.compute.api import API
from nubis.core.compute.states import VMState
from nubis.core.conf import CONF
from nubis.core.context import RequestContext, get_admin_context
from nubis.core.db import migration
from nubis.core.launcher import Launcher
from nubis.core.objects import base
from nubis.plugins.virt.libvirt import conf as libvirt_conf
from tests.fixtures.inproc_cloud import active, wait_for

ALL_IN_ONE_CONF = Path(__file__).parents[2] / "etc" / "nubis" / "all-in-one.conf"


@pytest.fixture
def all_in_one(
    flags: Callable[..., None], tmp_path: Path
) -> Iterator[Launcher]:
    from nubis.core.db import engine
    from nubis.core.objects.base import install_indirection

    libvirt_conf.register_opts(CONF)
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ALL_IN_ONE_CONF)
    for section in parser.sections() + ["DEFAULT"]:
        group = None if section == "DEFAULT" else section
        items = parser.defaults() if section == "DEFAULT" else {
            k: v for k, v in parser.items(section) if k not in parser.defaults()
        }
        for name, value in items.items():
            opt = CONF._get_opt_info(name, group)["opt"]
            flags(group=group, **{name: opt.type(value) if opt.type else value})
    flags(state_path=str(tmp_path), transport_url=f"inproc:///aio-{uuid.uuid4().hex[:8]}")
    flags(group="database", connection=f"sqlite:///{tmp_path}/nubis.sqlite")
    flags(periodic_enable=False, rpc_response_timeout=5)
    flags(group="api", port=0)  # a free port: a developer's all-in-one may hold 8774
    objects.register_all()
    install_indirection()
    migration.db_sync()
    launcher = Launcher(compose_all_in_one(list(CONF.all_in_one.services)))
    launcher.start()
    try:
        yield launcher
    finally:
        launcher.stop()
        base.set_indirection_api(None)
        engine.reset()


def test_the_embedded_default_boots_spreads_and_refuses_live_migration(
    all_in_one: Launcher,
) -> None:
    binaries = sorted((s.binary, getattr(s, "host", "-")) for s in all_in_one.services)
    assert binaries == [
        ("nubis-api", "-"),
        ("nubis-compute", "aio-compute-1"),
        ("nubis-compute", "aio-compute-2"),
        ("nubis-conductor", "aio"),
        ("nubis-scheduler", "aio"),
    ]
    ctx = RequestContext(user_id="demo", project_id="demo", is_admin=True)
    flavor = objects.Flavor(get_admin_context())
    flavor.flavorid, flavor.name = "1", "m1.small"
    flavor.memory_mb, flavor.vcpus, flavor.root_gb, flavor.ephemeral_gb = 512, 1, 1, 0
    flavor.create()
    api = API()
    created = api.create(ctx, flavor=flavor, image_ref=None, name="demo", max_count=4)
    instances: list[Any] = [
        wait_for(lambda i=i: active(i.uuid), timeout=20, what=f"{i.uuid} active") for i in created
    ]
    assert sorted(i.host for i in instances) == [
        "aio-compute-1", "aio-compute-1", "aio-compute-2", "aio-compute-2",
    ]
    with pytest.raises(exception.NoValidHost) as raised:
        api.live_migrate(ctx, instances[0])
    message = exception.one_line(raised.value)
    assert "live migration is not supported by libvirt" in message, message
    assert "test" in message
    still = api.get(ctx, instances[0].uuid)
    assert (still.host, still.vm_state, still.task_state) == (
        instances[0].host, VMState.ACTIVE, None,
    )
