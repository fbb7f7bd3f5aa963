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


def test_the_checked_options_come_from_the_namespace_table():
    # Every namespace chosen by a "[group] name" option names a registered option (the
    # "<service>" group: one of every service that has a manager).
    from nubis.core import plugins

    for ns in plugins.NAMESPACES:
        path = ns.option_path()
        if path is None:
            assert ns.name == "oslo.messaging.drivers"  # the transport_url scheme
            continue
        group, opt = path
        groups = (
            ["conductor", "compute", "scheduler"] if group == plugins.SERVICE_GROUP else [group]
        )
        for name in groups:
            assert opt in CONF[name], f"{ns.name}: [{name}] {opt} is not registered"


@pytest.mark.parametrize(
    "group, option, value, service, other",
    [
        ("compute", "virt_driver", "xen", "compute", "conductor"),
        ("api", "auth_strategy", "kerberos", "api", "scheduler"),
    ],
)
def test_a_service_plugin_is_checked_only_when_its_service_runs(
    flags, group, option, value, service, other
):
    flags(transport_url="inproc://")
    flags(group=group, **{option: value})
    with pytest.raises(exception.PluginNotFound) as err:
        check.check(CONF, [other, service])
    assert f"no plugin '{value}'" in str(err.value)
    assert f"(chosen by [{group}] {option})" in str(err.value)
    check.check(CONF, [other])


@pytest.mark.parametrize(
    "value, expected",
    [(None, None), ("", None), ("auto", "auto"), ("1.2", "1.2"), ("01.10", "1.10")],
)
def test_upgrade_levels_parse_to_a_cap(flags, value, expected):
    from nubis.core.rpc import client

    flags(group="upgrade_levels", compute=value)
    assert client.upgrade_level(CONF, "compute") == expected


@pytest.mark.parametrize("value", ["1", "1.2.3", " 1.2", "1.x", "AUTO", "-1.2", "1.²"])
def test_bad_upgrade_levels_are_refused_by_the_check_and_the_client(flags, value):
    from nubis.core.rpc import client

    flags(transport_url="inproc://")
    flags(group="upgrade_levels", conductor=value)
    expected = (
        f"[upgrade_levels] conductor: {value!r} is neither 'auto' nor a version such as '1.2'"
    )
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["conductor"])
    assert str(err.value) == expected
    with pytest.raises(exception.ConfigurationError) as err:
        client.upgrade_level(CONF, "conductor")
    assert str(err.value) == expected


# --- every check a service makes at start ------------------------------------------


def test_a_transport_url_password_never_shows(flags):
    flags(transport_url="rabbit://user:pass@:notaport/")
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["conductor"])
    assert "'rabbit://user:***@:notaport/' is malformed" in str(err.value)
    assert "pass@" not in str(err.value)


@pytest.mark.parametrize(
    "services, expected",
    [
        (["conductor", "bogus"], "[all_in_one] services: unknown service 'bogus'; known: "),
        ([], "[all_in_one] services: no service to run; name one or more of: "),
        (["conductor", "conductor"], "[all_in_one] services: service 'conductor' is listed"),
    ],
)
def test_service_names(flags, services, expected):
    flags(transport_url="inproc://")
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, services, "[all_in_one] services")
    assert str(err.value).startswith(expected)


@pytest.mark.parametrize(
    "connection, expected",
    [
        ("not a url", "'not a url' is not a database URL; use e.g. "),
        ("foo://bar", "'foo://bar' names database type 'foo'; nubis runs on sqlite, "),
        ("oracle://u:secret@db/x", "'oracle://u:***@db/x' names database type 'oracle'"),
        ("postgresql+nodriver://db/x", "'postgresql+nodriver://db/x': SQLAlchemy has no driver"),
    ],
)
def test_database_urls(flags, connection, expected):
    flags(transport_url="inproc://")
    flags(group="database", connection=connection)
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["conductor"])
    assert str(err.value).startswith(f"[database] connection: {expected}")
    assert "secret" not in str(err.value)


def test_a_compute_whose_objects_go_to_the_conductor_needs_no_database(flags):
    flags(transport_url="inproc://")
    flags(group="database", connection="foo://bar")
    flags(group="indirection", api="conductor")
    flags(group="compute", virt_driver="fake")
    check.check(CONF, ["compute"])


def test_state_path_and_the_sqlite_folder(flags, tmp_path):
    (tmp_path / "file").write_text("x")
    flags(transport_url="inproc://", state_path=str(tmp_path / "file" / "state"))
    flags(group="database", connection=f"sqlite:///{tmp_path}/file/state/nubis.sqlite")
    with pytest.raises(exception.ConfigurationError) as err:  # one line, not two
        check.check(CONF, ["conductor"])
    assert str(err.value) == (
        f"[DEFAULT] state_path: cannot create {tmp_path}/file/state: {tmp_path}/file is not a "
        "directory"
    )
    flags(state_path=str(tmp_path))
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["conductor"])
    assert str(err.value).startswith("[database] connection: the SQLite database's folder: ")


@pytest.fixture
def api_conf(flags, tmp_path):
    flags(transport_url="inproc://", state_path=str(tmp_path))
    flags(group="api", listen="127.0.0.1", port=0)


def test_nubis_api_port_in_use(api_conf, flags):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        flags(group="api", port=port)
        with pytest.raises(exception.ConfigurationError) as err:
            check.check(CONF, ["api"])
    assert str(err.value).startswith(f"[api] port: 127.0.0.1:{port} is already in use")
    check.check(CONF, ["api"])  # free again


def test_nubis_api_listen_address(api_conf, flags):
    flags(group="api", listen="192.0.2.1")  # TEST-NET-1: never this host's
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["api"])
    assert str(err.value) == "[api] listen: 192.0.2.1 is not an address of this host"
    check.check(CONF, ["conductor"])  # only nubis-api listens


def test_nubis_api_auth_plugin_vetoes_the_address(api_conf, flags):
    flags(group="api", auth_strategy="noauth", listen="0.0.0.0")
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["api"])
    assert str(err.value).startswith("[api] listen: auth_strategy noauth trusts any caller")


def test_a_malformed_policy_file(api_conf, flags, tmp_path):
    from oslo_policy import opts as policy_opts

    policy_opts.set_defaults(CONF)
    policy = tmp_path / "policy.yaml"
    policy.write_text('{"os_compute_api:servers:index": \n')
    flags(group="oslo_policy", policy_file=str(policy))
    with pytest.raises(exception.ConfigurationError) as err:
        check.check(CONF, ["api"])
    assert str(err.value).startswith(
        f"[oslo_policy] policy_file: {policy} is not a valid policy file: "
    )
    assert "(line 2, column 1)" in str(err.value)
    policy.write_text('"os_compute_api:servers:index": "role:reader"\n')
    check.check(CONF, ["api"])
