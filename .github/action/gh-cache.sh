#!/usr/bin/env bash
# The action's gh-cache step: builds `go-disk-guard gh-cache prune`'s flags from the inputs
# (GITHUB_REPOSITORY and GITHUB_API_URL come from the runner) and runs it.
set -euo pipefail

args=(gh-cache prune)
while IFS= read -r prefix; do
    prefix="${prefix#"${prefix%%[![:space:]]*}"}"
    prefix="${prefix%"${prefix##*[![:space:]]}"}"
    [ -n "$prefix" ] && args+=(--key-prefix "$prefix")
done <<< "${GDG_KEY_PREFIX:-}"
[ "${GDG_CLOSED_PRS:-false}" = "true" ] && args+=(--closed-prs)
[ -n "${GDG_KEEP_PER_REF:-}" ] && args+=(--keep-per-ref "$GDG_KEEP_PER_REF")
[ -n "${GDG_OLDER_THAN:-}" ] && args+=(--older-than "$GDG_OLDER_THAN")
[ -n "${GDG_MAX_TOTAL:-}" ] && args+=(--max-total "$GDG_MAX_TOTAL")
exec "$GDG_BIN" "${args[@]}"
