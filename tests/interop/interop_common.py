# SPDX-License-Identifier: Apache-2.0
"""What the interoperability scripts share: the missing-tool rule (skip
outside CI, fail under CI=true) and the failure/check helpers."""

import os
import sys

SKIP = 77  # ctest's SKIP_RETURN_CODE for these tests


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def missing(test, what):
    """Exit because a tool the test needs is absent: SKIP (77) on a
    developer's machine, a failure under CI=true (scripts/setup.sh installs
    everything the tests need, so CI must have it)."""
    if os.environ.get("CI") == "true":
        print(f"{test}: FAIL: {what} is missing and CI=true (scripts/setup.sh installs it)")
        sys.exit(1)
    print(f"{test}: SKIP: {what} is missing (run scripts/setup.sh to install it)")
    sys.exit(SKIP)
