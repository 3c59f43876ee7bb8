#!/usr/bin/env bash
# Being written (i15-e2e).
echo "FAIL: mirror_yum_test not written yet" >&2
exit 1
