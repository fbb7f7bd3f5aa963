"""Suite of ``nubis.managers``: a manager serves its service's RPC API.

The RPC API of a service is the set of rpcapi clients (each service's ``rpcapi`` module,
listed in ``rpcapi.RPCAPI_MODULES``)
whose ``BINARY`` is ``nubis-<service_name>`` (or whose ``RPC_API`` is the service
name). For each, the suite drives every client method through a recording stand-in
of the RPC client -- at every version from ``X.0`` up to the version the manager's
endpoint claims (its ``target.version``) -- and checks each message as oslo.messaging
would dispatch it: an endpoint with the client's namespace and a compatible version,
a public method of that name, and a signature that accepts ``(context, **kwargs)``
exactly as sent. A claimed version the client does not know, or of another major, is
a failure. It also starts the manager as its service in an embedded deployment
(:mod:`nubis.core.conformance.deployment`) and expects it to answer a ping.

A manager of a service with no rpcapi client has nothing to
check there (that test is reported as not applicable). No extras.
"""
