"""The start-up check: bad values are rejected with one line naming the option."""

import pytest

from nubis.core import exception
from nubis.core.conf import CONF, check


def test_good_configuration_passes(flags):
    flags(transport_url="inproc://")
    check.check(CONF, ["conductor"])


def test_unknown_manager_names_option_and_choices(flags):
    flags(transport_url="inproc://")
    flags(group="conductor", manager="nope")
    with pytest.raises(exception.PluginNotFound) as err:
        check.check(CONF, ["conductor"])
    assert str(err.value) == (
        "no plugin 'nope' in nubis.managers (chosen by [conductor] manager); "
        "available: compute, conductor, scheduler"
    )


def test_unknown_periodic_task(flags):
    flags(transport_url="inproc://")
    flags(group="conductor", periodic_tasks=["nightly"])
    with pytest.raises(exception.PluginNotFound, match=r"\[conductor\] periodic_tasks"):
        check.check(CONF, ["conductor"])


def test_unknown_servicegroup_driver(flags):
    flags(transport_url="inproc://")
    flags(group="servicegroup", driver="etcd")
    with pytest.raises(exception.PluginNotFound, match=r"chosen by \[servicegroup\] driver"):
        check.check(CONF, ["conductor"])


@pytest.mark.parametrize(
    "url, fragment",
    [
        ("", "not set"),
        ("nonsense", "No scheme specified"),
        ("rabbit://guest:guest@127.0.0.1:notaport/", "malformed"),
    ],
)
def test_malformed_transport_url(flags, url, fragment):
    flags(transport_url=url)
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["conductor"])
    assert str(err.value).startswith("[DEFAULT] transport_url: ")
    assert fragment in str(err.value)


def test_unknown_transport_scheme_lists_drivers(flags):
    flags(transport_url="zmq://127.0.0.1/")
    with pytest.raises(exception.PluginNotFound) as err:
        check.check(CONF, ["conductor"])
    assert "no plugin 'zmq' in oslo.messaging.drivers" in str(err.value)
    assert "inproc" in str(err.value) and "rabbit" in str(err.value)


def test_bad_upgrade_level(flags):
    flags(transport_url="inproc://")
    flags(group="upgrade_levels", compute="one-point-two")
    with pytest.raises(exception.ConfigurationError, match=r"\[upgrade_levels\] compute"):
        check.check(CONF, ["conductor"])


def test_service_down_time_is_raised_with_a_warning(flags, caplog):
    flags(transport_url="inproc://", report_interval=10, service_down_time=10)
    check.check(CONF, ["conductor"])
    assert CONF.service_down_time == 25
    assert "service_down_time (10) must be greater than report_interval (10)" in caplog.text
