"""nubis's defaults for oslo.messaging's options (:func:`nubis.core.rpc.register_opts`)."""

from oslo_config import cfg

from nubis.core import rpc


def _conf(*args: str) -> cfg.ConfigOpts:
    conf = cfg.ConfigOpts()
    rpc.register_opts(conf)
    conf(list(args), project="nubis-test", default_config_files=[], default_config_dirs=[])
    return conf


def test_the_connection_pool_holds_as_many_sends_as_the_executor_runs():
    conf = _conf()
    pool = conf.oslo_messaging_rabbit.rpc_conn_pool_size
    assert pool == rpc.RPC_CONN_POOL_SIZE
    assert pool >= conf.executor_thread_pool_size


def test_an_operators_pool_size_wins(tmp_path):
    config = tmp_path / "nubis.conf"
    config.write_text("[oslo_messaging_rabbit]\nrpc_conn_pool_size = 7\n")
    conf = _conf("--config-file", str(config))
    assert conf.oslo_messaging_rabbit.rpc_conn_pool_size == 7
