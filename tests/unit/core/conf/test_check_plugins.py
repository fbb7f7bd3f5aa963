"""The plugins' part of the check: each chosen plugin is imported, its published options
registered and validated, and its optional ``check_options`` hook asked."""

from __future__ import annotations

import pytest
from oslo_config import cfg

from nubis.core import exception, rpc
from nubis.core.conf import _MODULES, check
from tests.fixtures.plugin_dist import make_distribution, on_path

TICKS = """
from oslo_config import cfg

from nubis.core.periodic import periodic_task

OPTS = [
    cfg.IntOpt("limit", default=5, min=1, help="A limit."),
    cfg.StrOpt("mode", default="calm", help="A mode."),
]


def list_opts():
    return [("checked_tick", OPTS)]


@periodic_task(spacing=1)
def checkedtick(manager, context):
    pass


def _check_options(conf):
    mode = conf.checked_tick.mode
    return [] if mode == "calm" else [f"[checked_tick] mode: {mode!r} is not 'calm'"]


checkedtick.check_options = _check_options


@periodic_task(spacing=1)
def explodingtick(manager, context):
    pass


def _explode(conf):
    raise RuntimeError("the hook itself is broken")


explodingtick.check_options = _explode
"""

BROKEN = """
import nonexistent_dependency_of_nubis_tests  # noqa: F401
"""


@pytest.fixture(scope="module")
def checked_plugins(tmp_path_factory):
    root = make_distribution(
        tmp_path_factory.mktemp("plugins"),
        "nubis-checked",
        {
            "nubis_checked.__init__": "",
            "nubis_checked.ticks": TICKS,
            "nubis_checked.broken": BROKEN,
        },
        {
            "nubis.periodic_tasks": {
                "checkedtick": "nubis_checked.ticks:checkedtick",
                "explodingtick": "nubis_checked.ticks:explodingtick",
                "brokentick": "nubis_checked.broken:brokentick",
            },
            "oslo.config.opts": {
                "nubis.periodic_tasks.checkedtick": "nubis_checked.ticks:list_opts"
            },
        },
        version="1.2.3",
    )
    with on_path(root):
        yield root


def make_conf(tmp_path, text: str) -> cfg.ConfigOpts:
    """A configuration of its own, with every nubis option, read from *text*."""
    conf = cfg.ConfigOpts()
    for module in _MODULES:
        module.register_opts(conf)
    rpc.register_opts(conf)
    path = tmp_path / "nubis.conf"
    path.write_text(
        f"[DEFAULT]\ntransport_url = inproc://\nstate_path = {tmp_path}/state\n{text}\n"
    )
    conf(["--config-file", str(path)], project="nubis", default_config_files=[])
    return conf


def test_a_plugin_checks_its_own_options(checked_plugins, tmp_path):
    conf = make_conf(tmp_path, "[conductor]\nperiodic_tasks = checkedtick")
    check.check(conf, ["conductor"])
    assert conf.checked_tick.limit == 5  # its published options were registered

    text = "[conductor]\nperiodic_tasks = checkedtick\n[checked_tick]\nmode = wild"
    conf = make_conf(tmp_path, text)
    assert check.plugin_option_problems(conf, ["conductor"]) == [
        "[checked_tick] mode: 'wild' is not 'calm'"
    ]
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(conf, ["conductor"])
    assert str(err.value) == "[checked_tick] mode: 'wild' is not 'calm'"


def test_a_plugin_option_out_of_range_is_found_before_any_use(checked_plugins, tmp_path):
    text = "[conductor]\nperiodic_tasks = checkedtick\n[checked_tick]\nlimit = 0"
    conf = make_conf(tmp_path, text)
    assert check.problems(conf, ["conductor"]) == [
        f"[checked_tick] limit: should be greater than or equal to 1 (in {tmp_path}/nubis.conf)"
    ]


def test_a_hook_that_fails_is_a_problem_not_a_crash(checked_plugins, tmp_path):
    conf = make_conf(tmp_path, "[conductor]\nperiodic_tasks = explodingtick")
    assert check.problems(conf, ["conductor"]) == [
        "[conductor] periodic_tasks: the option check of plugin 'explodingtick' "
        "(nubis.periodic_tasks) failed: RuntimeError: the hook itself is broken"
    ]


def test_an_import_failure_names_the_module_and_distribution(checked_plugins, tmp_path):
    conf = make_conf(tmp_path, "[conductor]\nperiodic_tasks = brokentick")
    (line,) = check.problems(conf, ["conductor"])
    assert line.startswith(
        "[conductor] periodic_tasks: plugin 'brokentick' in nubis.periodic_tasks failed to "
        "load: ModuleNotFoundError: No module named 'nonexistent_dependency_of_nubis_tests' "
        "[entry point 'brokentick = nubis_checked.broken:brokentick' of nubis-checked 1.2.3; "
        "module nubis_checked.broken at "
    ), line


def test_only_the_chosen_plugins_are_imported(checked_plugins, tmp_path):
    conf = make_conf(tmp_path, "")  # brokentick is installed but not chosen
    assert check.problems(conf, ["conductor"]) == []


def test_several_problems_are_raised_together(checked_plugins, tmp_path):
    conf = make_conf(
        tmp_path,
        "[conductor]\nperiodic_tasks = brokentick, checkedtick\n"
        "[checked_tick]\nmode = wild\n[database]\nconnection = foo://bar",
    )
    with pytest.raises(check.ConfigurationInvalid) as err:
        check.check(conf, ["conductor"])
    assert [line.split(":")[0] for line in err.value.problems] == [
        "[conductor] periodic_tasks",
        "[checked_tick] mode",
        "[database] connection",
    ]
    assert str(err.value).endswith("(and 2 more problems; nubis-manage config check lists them)")
