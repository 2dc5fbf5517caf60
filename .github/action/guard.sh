#!/usr/bin/env bash
# The action's check step: runs go-disk-guard check (settings come from GO_DISK_GUARD_*
# variables set from the inputs). fail-on-hard: false makes a hard-limit breach a warning
# annotation and lets the step succeed (`check --fail-on-hard false`).
# cacheprog-remote-read-only (GDG_CACHEPROG_REMOTE_READ_ONLY) is resolved here, see below.
#
# The settings the check ran with are saved under RUNNER_TEMP, and the github emit format
# hands GO_DISK_GUARD_CONFIG naming that file to the rest of the job: a later
# `go-disk-guard run`, `status` or `prune` uses the action's settings, unless its own flags,
# GO_DISK_GUARD_* variables or --config say otherwise.
set -euo pipefail

case "${GDG_FAIL_ON_HARD:-true}" in
    true | false) ;;
    *)
        echo "::error title=go-disk-guard::fail-on-hard must be true or false"
        exit 2
        ;;
esac
# cacheprog-remote-read-only: auto leaves the remote tier writable only for an event that
# builds the repository's own code (GDG_OWN_CODE, resolved from the event by the step's env:
# push, schedule, workflow_dispatch, merge_group, release, or a pull request whose head
# repository is this one), and then as the job set GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY
# (unset: false). Every other event (a pull request from a fork, workflow_run,
# issue_comment, …, or GDG_OWN_CODE missing) makes it read-only.
case "${GDG_CACHEPROG_REMOTE_READ_ONLY:-auto}" in
    auto)
        if [ "${GDG_OWN_CODE:-}" != true ]; then
            export GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY=true
        fi
        ;;
    true | false) export GO_DISK_GUARD_CACHEPROG_REMOTE_READ_ONLY="$GDG_CACHEPROG_REMOTE_READ_ONLY" ;;
    *)
        echo "::error title=go-disk-guard::cacheprog-remote-read-only must be auto, true or false"
        exit 2
        ;;
esac
args=(check --fail-on-hard "${GDG_FAIL_ON_HARD:-true}")
if [ -n "${RUNNER_TEMP:-}" ]; then
    args+=(--save-settings "$RUNNER_TEMP/go-disk-guard-settings.yml")
fi
exec "$GDG_BIN" "${args[@]}"
