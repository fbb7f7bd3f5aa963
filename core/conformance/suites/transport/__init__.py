"""Suite of ``oslo.messaging.drivers``: a transport behaves as RabbitMQ does.

The same RPC and notification cases run on every transport, through the public
oslo.messaging API only (transports, RPC client/server with the threading executor,
Notifier, notification listeners). A module's tests share one transport pair and the
servers they start (``nubis_backend``, module scope); topics, servers and pools carry a
random prefix so runs never see each other's messages on a shared broker, and on
RabbitMQ the named queues a module declared are deleted at its end.

Extras:

* ``url`` -- the transport URL (a str, or ``callable(request) -> str`` that may skip
  when its broker is missing). Default: ``[DEFAULT] transport_url`` of the kit's
  config file when its scheme is the plugin's, else ``<plugin>://``.
"""
