"""nubis-api: the OpenStack Compute API v2.1 subset, the image listing and the WSGI
machinery they run on.

* :mod:`.app` builds the WSGI application (routing, microversions, validation, faults)
  and wraps it in the ``[api] auth_strategy`` plugin;
* :mod:`.routing`, :mod:`.microversion`, :mod:`.validation`, :mod:`.faults` are that
  machinery; :mod:`.openapi` describes the routes as an OpenAPI 3.1 document;
* :mod:`.resources` holds one module per resource (servers, flavors, ...);
* :mod:`.auth` is the contract of the ``nubis.api.auth`` plugins, :mod:`.identity` the
  user store of the embedded identity service, :mod:`.policy` and :mod:`.policies`
  the oslo.policy rules;
* :mod:`.service` serves it all with waitress (:mod:`.http_server`): an event loop
  that reads each request whole, and worker threads that run it.
"""
