"""Manager plugins (namespace ``nubis.managers``)."""
