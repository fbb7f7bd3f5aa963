"""The default scheduler filters and weighers (namespaces ``nubis.scheduler.filters`` and
``nubis.scheduler.weighers``)."""
