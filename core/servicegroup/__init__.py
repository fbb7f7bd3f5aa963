"""Service membership: which services are up (namespace ``nubis.servicegroup``)."""
