#!/usr/bin/env bash
# The action's check step: runs go-disk-guard check (settings come from GO_DISK_GUARD_*
# variables set from the inputs) and applies fail-on-hard.
set -uo pipefail

code=0
"$GDG_BIN" check || code=$?
if [ "$code" -eq 3 ] && [ "${GDG_FAIL_ON_HARD:-true}" = "false" ]; then
    echo "::warning title=go-disk-guard::a volume is below the hard limit; fail-on-hard is false, so the job goes on"
    exit 0
fi
exit "$code"
