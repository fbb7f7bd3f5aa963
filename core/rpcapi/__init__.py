"""RPC API clients: the contract of each service's RPC surface.

One module per service (``baseapi``, and later ``compute``, ``conductor``,
``scheduler``). Each client is a :class:`~nubis.core.rpcapi.client.RPCAPIClient`
subclass with a version history in its docstring; the manager that serves it
implements one method per client method.
"""
