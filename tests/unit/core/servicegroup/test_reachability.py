"""Reachability: one error line when a server goes, one info line when it returns."""

from __future__ import annotations

import logging
from typing import Any

from nubis.core.servicegroup.reachability import Reachability

LOG = logging.getLogger("nubis.tests.reachability")


def test_loss_and_return_are_logged_once_each(caplog: Any) -> None:
    server = Reachability("memcached at 127.0.0.1:11211", "members count as down", LOG)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        server.regain()  # reachable all along: nothing to say
        server.lose("set k:\n  timed out")
        server.lose("set k: timed out again")
        assert server.lost
        server.regain("re-registered 2 members")
        server.regain()
    assert not server.lost
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "memcached at 127.0.0.1:11211 unreachable (set k: timed out); members count as down",
        ),
        (logging.INFO, "memcached at 127.0.0.1:11211 reachable again; re-registered 2 members"),
    ]
