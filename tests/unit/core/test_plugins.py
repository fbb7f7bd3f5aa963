"""The plugin core: lookup, load-time contract checks and one-line errors."""

import pytest

from nubis.core import exception, plugins
from tests.fixtures.plugin_dist import make_distribution, on_path

GOOD_DRIVER = '''
from nubis.core.servicegroup.driver import ServiceGroupDriver

class Good(ServiceGroupDriver):
    def join(self, member, group, service=None): pass
    def leave(self, member, group, service=None): pass
    def is_up(self, service_ref): return True
    def get_all(self, group): return []
'''

MISSING_METHOD = '''
from nubis.core.servicegroup.driver import ServiceGroupDriver

class Partial(ServiceGroupDriver):
    def join(self, member, group, service=None): pass
    def leave(self, member, group, service=None): pass
    def get_all(self, group): return []
'''

WRONG_SIGNATURE = '''
class WrongSig:
    def join(self, who): pass
    def leave(self, member, group, service=None): pass
    def is_up(self, service_ref, extra): return True
    def get_all(self, group): return []
'''

BROKEN_IMPORT = '''
import nubis_no_such_dependency
'''

NOT_A_MANAGER = '''
class NotAManager:
    pass
'''

TASK = '''
from nubis.core.periodic import periodic_task

@periodic_task(spacing=5)
def tick(manager, context):
    return None

def undecorated(manager, context):
    return None
'''


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
    assert "join() lacks parameter 'member'" in message
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
