"""nubis core: the machinery and the contracts. It never imports ``nubis.plugins``."""

import warnings

# oslo.service (an oslo.messaging dependency) and futurist import eventlet when it is
# installed, which prints a deprecation banner. nubis never uses eventlet (threads
# only), so the banner is noise to operators.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
