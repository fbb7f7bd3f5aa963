"""The names nubis's binaries register their service records under (``Service.binary``).

Every layer needs them (the DB API soft-deletes a compute service's nodes, the REST API
lists hypervisors by them, rpcapi clients address services by them), so they live here,
below all of those, and nowhere else.
"""

COMPUTE = "nubis-compute"
CONDUCTOR = "nubis-conductor"
SCHEDULER = "nubis-scheduler"
