"""Suite of ``nubis.servicegroup``: the ServiceGroupDriver contract.

Each test gets an embedded deployment (``nubis_deployment``): a fresh SQLite
database, an ``inproc://`` transport of its own, the real ``conductor`` manager,
``report_interval`` 1 s and ``service_down_time`` 3 s, a topic of its own, and
``[servicegroup] driver`` set to the plugin under test, configured with the target's
options on nubis's global CONF. Members are real services started in this process;
observers are separate servicegroup APIs (separate driver instances, as in another
process).

Harness checks for free: every member is joined twice (the contract says joining
twice is harmless) and left twice when it stops; when the test ends every member is
stopped and, with the ``left_behind`` extra, checked to have left nothing on the
server.

Extras:

* ``fault`` -- ``callable(deployment) -> context manager``: the driver's server is
  away inside it and back after it. Without it the server-restart test is reported as
  an environment that is missing.
* ``left_behind`` -- ``callable(deployment, host) -> str``: what a member that left
  still holds on the server ("" when nothing).
"""
