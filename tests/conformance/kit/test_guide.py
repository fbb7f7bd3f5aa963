"""docs/plugin-author-guide.md shows what the scaffold writes and what the kit prints.

Every generated block of the guide (see tests/conformance/kit/guide.py) is made again
-- the scaffold's files, ``nubis-manage plugins new``'s output, real kit runs on
scaffold packages -- and compared, durations aside. Regenerate with
``.venv/bin/python -m tests.conformance.kit.guide``.
"""

from __future__ import annotations

import pytest

from nubis.core import plugins
from tests.conformance.kit import guide

REGENERATE = "regenerate it with .venv/bin/python -m tests.conformance.kit.guide"


def test_the_guide_has_a_worked_example_of_every_namespace() -> None:
    shown = {spec.split()[1] for spec, _ in guide.specs(guide.GUIDE.read_text())
             if spec.startswith("scaffold ")}  # fmt: skip
    assert shown == {ns.name for ns in plugins.NAMESPACES}
    text = guide.GUIDE.read_text()
    for extra in ("`service`", "`peer_options`", "`fault`", "`left_behind`", "`url`"):
        assert extra in text, f"the guide does not document the {extra} extra"
    assert "nubis.conformance.environments" in text
    assert "[project.entry-points.pytest11]" not in text


@pytest.mark.timeout(300)
def test_the_guide_is_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUBIS_REQUIRE_SERVERS", raising=False)
    stale = []
    for spec, shown in guide.specs(guide.GUIDE.read_text()):
        made = guide.block(spec)
        if guide.normalized(made) != guide.normalized(shown):
            stale.append(spec)
    assert not stale, f"{guide.GUIDE} is stale in {stale}; {REGENERATE}"
