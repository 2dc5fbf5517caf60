#!/usr/bin/env bash
# The action's scan step: lists hard-coded Go paths in the log and writes them as SARIF (for
# github/codeql-action/upload-sarif); scan-fail-on decides whether findings fail the step.
set -uo pipefail

"$GDG_BIN" scan --fail-on never || exit $?
"$GDG_BIN" scan --format sarif --output "$GDG_SCAN_SARIF" --fail-on "$GDG_SCAN_FAIL_ON"
