"""The plugin core: lookup, load-time contract checks and one-line errors."""

import pytest

from nubis.core import exception, plugins
from tests.fixtures.plugin_dist import make_distribution, on_path

GOOD_DRIVER = """
from nubis.core.servicegroup.driver import ServiceGroupDriver

class Good(ServiceGroupDriver):
    def join(self, member, group, service=None): pass
    def leave(self, member, group, service=None): pass
    def is_up(self, service_ref): return True
    def get_all(self, group): return []
"""

MISSING_METHOD = """
from nubis.core.servicegroup.driver import ServiceGroupDriver

class Partial(ServiceGroupDriver):
    def join(self, member, group, service=None): pass
    def leave(self, member, group, service=None): pass
    def get_all(self, group): return []
"""

WRONG_SIGNATURE = """
class WrongSig:
    def join(self, who): pass
    def leave(self, member, group, service=None): pass
    def is_up(self, service_ref, extra): return True
    def get_all(self, group): return []
"""

BROKEN_IMPORT = """
import nubis_no_such_dependency
"""

NOT_A_MANAGER = """
class NotAManager:
    pass
"""

TASK = """
from nubis.core.periodic import periodic_task

@periodic_task(spacing=5)
def tick(manager, context):
    return None

def undecorated(manager, context):
    return None
"""


@pytest.fixture
def third_party(tmp_path):
    root = make_distribution(
        tmp_path,
        "nubis-thirdparty",
        {
            "tp_good": GOOD_DRIVER,
            "tp_partial": MISSING_METHOD,
            "tp_wrongsig": WRONG_SIGNATURE,
            "tp_broken": BROKEN_IMPORT,
            "tp_notmanager": NOT_A_MANAGER,
            "tp_tasks": TASK,
        },
        {
            "nubis.servicegroup": {
                "good": "tp_good:Good",
                "partial": "tp_partial:Partial",
                "wrongsig": "tp_wrongsig:WrongSig",
                "broken": "tp_broken:Anything",
            },
            "nubis.managers": {"notmanager": "tp_notmanager:NotAManager"},
            "nubis.periodic_tasks": {"tp_tick": "tp_tasks:tick", "tp_bad": "tp_tasks:undecorated"},
        },
        version="2.3.4",
    )
    with on_path(root):
        yield root


def test_unknown_name_lists_available_and_option():
    with pytest.raises(exception.PluginNotFound) as err:
        plugins.load_one("nubis.servicegroup", "xen", "[servicegroup] driver")
    message = str(err.value)
    assert message.startswith(
        "no plugin 'xen' in nubis.servicegroup (chosen by [servicegroup] driver); available: "
    )
    assert "db" in message.split("available: ")[1]
    assert "\n" not in message


def test_unknown_namespace_is_named():
    with pytest.raises(exception.UnknownNamespace, match="unknown plugin namespace 'nubis.nope'"):
        plugins.namespace("nubis.nope")


def test_third_party_plugin_loads_through_its_entry_point(third_party):
    cls = plugins.load_one("nubis.servicegroup", "good")
    assert cls.__name__ == "Good"


def test_missing_method_is_named_at_load(third_party):
    with pytest.raises(exception.PluginContractViolation) as err:
        plugins.load_one("nubis.servicegroup", "partial", "[servicegroup] driver")
    assert "plugin 'partial' in nubis.servicegroup" in str(err.value)
    assert "is_up() is still abstract" in str(err.value)


def test_wrong_signatures_are_named_at_load(third_party):
    with pytest.raises(exception.PluginContractViolation) as err:
        plugins.load_one("nubis.servicegroup", "wrongsig")
    message = str(err.value)
    assert (
        "join() takes 1 positional argument(s) but nubis passes 3 by position "
        "(member, group, service): expected join(self, member, group, service=None, /), "
        "got join(self, who)" in message
    )
    assert "is_up() requires parameters the contract never passes: extra" in message


def test_import_failure_is_one_line(third_party):
    with pytest.raises(exception.PluginLoadFailed) as err:
        plugins.load_one("nubis.servicegroup", "broken")
    assert "No module named 'nubis_no_such_dependency'" in str(err.value)
    assert "\n" not in str(err.value)


def test_manager_must_subclass_manager(third_party):
    with pytest.raises(exception.PluginContractViolation, match="not a subclass of"):
        plugins.load_one("nubis.managers", "notmanager")


def test_load_many_keeps_order_and_checks_each(third_party):
    (tick,) = plugins.load_many("nubis.periodic_tasks", ["tp_tick"])
    assert tick.__name__ == "tick"
    with pytest.raises(exception.PluginContractViolation, match="not decorated"):
        plugins.load_many("nubis.periodic_tasks", ["tp_tick", "tp_bad"])
    with pytest.raises(exception.PluginNotFound, match="no plugin 'nope1', 'nope2'"):
        plugins.load_many("nubis.periodic_tasks", ["nope1", "tp_tick", "nope2"], "[x] y")


def test_inventory_reports_distribution_version_and_verdict(third_party):
    rows = {p.name: p for p in plugins.inventory(["nubis.servicegroup"])}
    assert rows["good"].distribution == "nubis-thirdparty"
    assert rows["good"].version == "2.3.4"
    assert rows["good"].problems == ()
    assert rows["partial"].problems
    assert rows["broken"].import_error and "nubis_no_such_dependency" in rows["broken"].import_error
    assert rows["db"].distribution == "nubis" and rows["db"].problems == ()


def test_every_default_plugin_passes_its_contract():
    for row in plugins.inventory():
        if row.distribution == "nubis":
            assert row.problems == () and row.import_error is None, row


def test_import_failure_names_distribution_entry_point_and_module(third_party):
    with pytest.raises(exception.PluginLoadFailed) as err:
        plugins.load_one("nubis.servicegroup", "broken")
    message = str(err.value)
    assert "entry point 'broken = tp_broken:Anything' of nubis-thirdparty 2.3.4" in message
    assert f"module tp_broken at {third_party / 'tp_broken.py'}:2" in message
    (row,) = [p for p in plugins.inventory(["nubis.servicegroup"]) if p.name == "broken"]
    assert "of nubis-thirdparty 2.3.4; module tp_broken at" in row.import_error
    assert not row.ok


RENAMED = """
from nubis.core.scheduler.filters import BaseHostFilter
from nubis.core.virt.driver import ComputeDriver


class Renamed(BaseHostFilter):
    def host_passes(self, host, request_spec):
        return True


class Short(BaseHostFilter):
    def host_passes(self, host):
        return True


class Rebooter(ComputeDriver):
    def reboot(self, ctx, inst, kind="SOFT", network_info=None, block_device_info=None):
        pass
"""


def test_positional_only_parameters_may_have_any_name_keywords_may_not(tmp_path):
    root = make_distribution(tmp_path, "tp-names", {"tp_names": RENAMED}, {})
    with on_path(root):
        import tp_names

        filters = plugins.namespace("nubis.scheduler.filters")
        assert plugins.contract_signature(filters, "host_passes") == (
            "host_passes(self, host_state, spec, /)"
        )
        assert plugins.signature_problem(filters, tp_names.Renamed, "host_passes") is None
        assert plugins.signature_problem(filters, tp_names.Short, "host_passes") == (
            "host_passes() takes 1 positional argument(s) but nubis passes 2 by position "
            "(host_state, spec): expected host_passes(self, host_state, spec, /), got "
            "host_passes(self, host)"
        )
        virt = plugins.namespace("nubis.virt")
        # context and instance: by position (any name); reboot_type: by keyword.
        assert plugins.signature_problem(virt, tp_names.Rebooter, "reboot") == (
            "reboot() lacks parameter 'reboot_type' (nubis may pass it by keyword): expected "
            "reboot(self, context, instance, /, reboot_type='SOFT', network_info=None, "
            "block_device_info=None), got reboot(self, ctx, inst, kind='SOFT', "
            "network_info=None, block_device_info=None)"
        )
    assert {ns.name: ns.passing for ns in plugins.NAMESPACES} == {
        "nubis.managers": plugins.KEYWORD,
        "nubis.indirection": plugins.POSITIONAL,
        "nubis.servicegroup": plugins.POSITIONAL,
        "nubis.periodic_tasks": plugins.POSITIONAL,
        "nubis.virt": plugins.REQUIRED_POSITIONAL,
        "nubis.scheduler.filters": plugins.POSITIONAL,
        "nubis.scheduler.weighers": plugins.POSITIONAL,
        "nubis.api.auth": plugins.POSITIONAL,
        "oslo.messaging.drivers": plugins.KEYWORD,
    }


def test_missing_methods_and_unknown_capabilities_are_reported_together():
    from nubis.core.servicegroup.driver import ServiceGroupDriver

    class Teleporting(ServiceGroupDriver):
        capabilities = {"supports_teleportation": True}

        def join(self, member, group, service=None):
            pass

    problems = plugins.contract_problems(plugins.namespace("nubis.servicegroup"), Teleporting)
    assert problems == [
        "get_all() is still abstract",
        "is_up() is still abstract",
        "leave() is still abstract",
        "unknown capabilities supports_teleportation; known: reports_through_conductor",
    ]


OPTIONED = """
import math

from oslo_config import cfg

OPTS = [cfg.FloatOpt("factor", default=1.0), cfg.IntOpt("size", default=1, min=1)]


def list_opts():
    return [("tp_optioned", OPTS)]


class Optioned:
    @staticmethod
    def check_options(conf):
        factor = conf.tp_optioned.factor
        return [] if math.isfinite(factor) else [f"[tp_optioned] factor: {factor} is not finite"]
"""


def test_option_problems_checks_published_options_and_the_plugins_own_check(tmp_path):
    from oslo_config import cfg

    root = make_distribution(
        tmp_path,
        "tp-optioned",
        {"tp_optioned": OPTIONED},
        {"oslo.config.opts": {"nubis.scheduler.weighers.optioned": "tp_optioned:list_opts"}},
    )
    with on_path(root):
        import tp_optioned

        conf = cfg.ConfigOpts()
        conf(args=[], default_config_files=[])
        ns = "nubis.scheduler.weighers"
        assert plugins.option_problems(ns, "optioned", tp_optioned.Optioned, conf) == []
        conf.set_override("factor", "nan", group="tp_optioned")
        assert plugins.option_problems(ns, "optioned", tp_optioned.Optioned, conf) == [
            "[tp_optioned] factor: nan is not finite"
        ]


def test_plugins_list_fails_on_any_broken_plugin_and_sizes_its_columns(third_party):
    import os
    import subprocess
    import sys
    from pathlib import Path

    manage = str(Path(sys.executable).with_name("nubis-manage"))
    env = {**os.environ, "PYTHONPATH": str(third_party)}
    done = subprocess.run(
        [manage, "--config-file", os.devnull, "plugins", "list", "--namespace",
         "nubis.servicegroup"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("    ")]
    broken = next(line for line in rows if line.split()[0] == "broken")
    assert "DOES NOT LOAD: ModuleNotFoundError: No module named 'nubis_no_such_dependency'" in (
        broken
    )
    assert "entry point 'broken = tp_broken:Anything' of nubis-thirdparty 2.3.4" in broken
    # Columns sized to the longest cell: the targets start at one column on every row.
    starts = {line.index(line.split()[3]) for line in rows}
    assert len(starts) == 1, rows
    assert "plugin(s) failing: nubis.servicegroup:broken, nubis.servicegroup:partial" in (
        done.stdout
    )
