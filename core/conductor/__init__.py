"""The conductor service's contract: its RPC API (:mod:`nubis.core.conductor.rpcapi`)."""
