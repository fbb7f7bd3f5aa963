"""Indirection API plugins (namespace ``nubis.indirection``)."""
