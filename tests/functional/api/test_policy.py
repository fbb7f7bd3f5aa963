"""Policy: the generated sample is current, and a policy file overrides the defaults
(re-read when it changes, without a restart)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from nubis.core.api import policy
from nubis.core.conf import CONF
from tests.functional.api.conftest import Cloud, wait_for

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def test_sample_policy_file_is_current(tmp_path: Path) -> None:
    fresh = tmp_path / "policy.yaml.sample"
    subprocess.run(
        [
            str(BIN / "oslopolicy-sample-generator"),
            "--config-file",
            "etc/nubis/nubis-policy-generator.conf",
            "--output-file",
            str(fresh),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=120,
    )
    committed = ROOT / "etc/nubis/policy.yaml.sample"
    assert committed.read_text() == fresh.read_text(), (
        "etc/nubis/policy.yaml.sample is stale: run oslopolicy-sample-generator "
        "--config-file etc/nubis/nubis-policy-generator.conf and commit it"
    )


def test_a_policy_file_overrides_the_defaults(cloud: Cloud, tmp_path: Path) -> None:
    rules = tmp_path / "policy.yaml"
    rules.write_text('"os_compute_api:flavors:index": "rule:context_is_admin"\n')
    CONF.set_override("policy_file", str(rules), group="oslo_policy")
    policy.reset()
    try:
        alice = cloud.client("alice")
        assert alice.get("/v2.1/flavors").status_code == 403
        assert cloud.client("admin").get("/v2.1/flavors").status_code == 200
        rules.write_text('"os_compute_api:os-hypervisors:list": "rule:project_reader_or_admin"\n')
        wait_for(lambda: alice.get("/v2.1/flavors").status_code == 200, what="the new file")
        assert alice.get("/v2.1/os-hypervisors").status_code == 200
    finally:
        CONF.clear_override("policy_file", group="oslo_policy")
        policy.reset()
    assert cloud.client("alice").get("/v2.1/os-hypervisors").status_code == 403
