"""The nubis database: schema (models), migrations, engine, retries and the DB API.

Only :mod:`nubis.core.db.api` is meant for callers outside this package (the objects
layer); :mod:`nubis.core.db.migration` is for nubis-manage and tests.
"""
