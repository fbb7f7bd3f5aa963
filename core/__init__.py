"""nubis core: the machinery and the contracts. It never imports ``nubis.plugins``."""

import warnings

from nubis.core import native_threads

# Before any nubis module imports an oslo library: oslo.service's threading backend, and
# no eventlet (see nubis.core.native_threads).
native_threads.install()

# When native_threads could not keep it out, oslo.service (an oslo.messaging
# dependency) and futurist import eventlet, which prints a deprecation banner. nubis
# never uses eventlet (threads only), so the banner is noise to operators.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
