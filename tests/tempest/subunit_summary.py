"""Read a subunit v2 stream on stdin, write one JSON object per test on stdout:
``{"id": ..., "status": "success"|"fail"|"skip"|..., "detail": ...}``.

It runs in the Tempest virtualenv (python-subunit and testtools come with Tempest), so
the runner in nubis's own environment needs neither. ``detail`` is the skip reason for
a skip and the traceback (cut to its last 4,000 characters) for a failure; test ids keep
Tempest's ``[id-...,smoke]`` attributes, which the runner strips.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import subunit
import testtools


def main() -> int:
    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    results: list[dict[str, object]] = []

    def on_test(test: dict[str, Any]) -> None:
        status = test["status"]
        if status in ("exists", "inprogress"):
            return
        details = test["details"]
        if status == "skip":
            detail = details["reason"].as_text() if "reason" in details else ""
        elif status in ("fail", "uxsuccess"):
            detail = "".join(
                content.as_text() for name, content in details.items() if "traceback" in name
            )[-4000:]
        else:
            detail = ""
        results.append({"id": test["id"], "status": status, "detail": detail.strip()})

    summary = testtools.StreamToDict(on_test)
    summary.startTestRun()
    try:
        stream.run(summary)
    finally:
        summary.stopTestRun()
    for result in results:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
