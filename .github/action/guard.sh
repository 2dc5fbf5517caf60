#!/usr/bin/env bash
# The action's check step: runs go-disk-guard check (settings come from GO_DISK_GUARD_*
# variables set from the inputs) and applies fail-on-hard.
#
# The settings the check ran with are saved under RUNNER_TEMP, and the github emit format
# hands GO_DISK_GUARD_CONFIG naming that file to the rest of the job: a later
# `go-disk-guard run`, `status` or `prune` uses the action's settings, unless its own flags,
# GO_DISK_GUARD_* variables or --config say otherwise.
set -uo pipefail

args=(check)
if [ -n "${RUNNER_TEMP:-}" ]; then
    args+=(--save-settings "$RUNNER_TEMP/go-disk-guard-settings.yml")
fi
code=0
"$GDG_BIN" "${args[@]}" || code=$?
if [ "$code" -eq 3 ] && [ "${GDG_FAIL_ON_HARD:-true}" = "false" ]; then
    echo "::warning title=go-disk-guard::a volume is below the hard limit; fail-on-hard is false, so the job goes on"
    exit 0
fi
exit "$code"
