"""Native threads only: keep eventlet, and the dnspython it drags in, out of nubis.

nubis runs on native threads (oslo.messaging's threading executor, futurist pools), yet
importing ``oslo_messaging`` used to import eventlet and dnspython (~400 modules, about
a third of nubis-compute's start): the package ``oslo_messaging`` imports
``oslo_messaging.server``, which imports ``oslo_service.service``, which takes its
classes from oslo.service's *default backend, eventlet's* (``eventlet`` ->
``eventlet.green.socket`` -> ``eventlet.support.greendns`` -> ``dns``). No submodule of
oslo.messaging avoids it: every one runs the package ``__init__`` first. Besides,
futurist, ``oslo_utils.eventletutils`` and ``oslo_messaging._utils`` each
``import eventlet`` only to learn whether it is installed.

:func:`install`, which ``nubis.core`` runs when it is first imported (so before any
nubis module imports an oslo library), does two upstream-compatible things and patches
no library:

1. It tells oslo.service to use its own threading backend
   (``register_backend_default_hook`` -> ``BackendType.THREADING``; the
   ``oslo.service[threading]`` extra, i.e. cotyledon). oslo.messaging takes only
   ``ServiceBase`` from the backend, and both backends export the same class
   (``oslo_service.backend.base.ServiceBase``); nubis uses nothing else of oslo.service.
2. It sets ``sys.modules["eventlet"] = None``, Python's documented marker that makes
   ``import eventlet`` raise ImportError. The libraries' probes then take the branch
   they take on a host without eventlet, which in a process that never monkey-patches
   (nubis never does) behaves the same as before: native thread identities, locks and
   queues, the threading executor, and the rabbit driver's heartbeat on a native thread.

Nothing is changed when eventlet is already imported, when something already chose
oslo.service's backend, or when the threading backend is not installed: the process
then runs as it always did, only slower to start, and :data:`skipped` says why. A
plugin that imports eventlet inside a nubis process gets ``ModuleNotFoundError: import
of eventlet halted``: nubis's concurrency model is native threads.
"""

from __future__ import annotations

import importlib.util
import sys

#: Why :func:`install` left the process as it was; None when it installed.
skipped: str | None = None


def install() -> None:
    """Choose oslo.service's threading backend and keep eventlet from being imported.

    Idempotent; sets :data:`skipped` when it has to leave the process alone.
    """
    global skipped
    if sys.modules.get("eventlet") is not None:
        skipped = "eventlet was imported before nubis.core"
        return
    if "eventlet" in sys.modules:
        return  # already installed
    if importlib.util.find_spec("cotyledon") is None:
        skipped = "oslo.service's threading backend needs cotyledon (oslo.service[threading])"
        return
    from oslo_service import backend

    chosen = backend.get_backend_type()
    if chosen is not None and chosen is not backend.BackendType.THREADING:
        skipped = f"oslo.service's {chosen.value} backend was chosen before nubis.core"
        return
    # Lazy (oslo.service >= 4.2): the backend (cotyledon, multiprocessing) is imported
    # only when oslo_service.service is, i.e. with oslo_messaging.
    backend.register_backend_default_hook(lambda: backend.BackendType.THREADING)
    sys.modules["eventlet"] = None  # type: ignore[assignment]
    skipped = None
