#!/bin/sh
# Installs a go-disk-guard release archive for the goDiskGuard step.
# In:  GDG_URL (the archive), GDG_SUMS_URL (SHA256SUMS beside it), GDG_ARCHIVE (its name),
#      GDG_DIR (where to install), GDG_SHA256 (a pinned checksum; empty: use SHA256SUMS).
# Out: GDG_DIR/go-disk-guard and GDG_DIR/.verified. Exit 2: the checksum does not match (or
#      none was found), and nothing was installed; exit 1: any other failure.
#
# Messages name only the archive (whose name the step builds from a checked version) and
# checksums checked to be 64 hex digits: nothing a server sends can add a line to the log.
set -eu

tmp="$GDG_DIR.partial.$$"
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
rm -rf "$tmp"
mkdir -p "$tmp"

fetch() {
    case "$1" in
        file://*) cp "${1#file://}" "$2" ;;
        *)
            if command -v curl >/dev/null 2>&1; then
                curl -fsSL --retry 3 -o "$2" "$1"
            else
                wget -q -O "$2" "$1"
            fi
            ;;
    esac
}

fetch "$GDG_URL" "$tmp/$GDG_ARCHIVE"
expected="${GDG_SHA256:-}"
if [ -z "$expected" ]; then
    fetch "$GDG_SUMS_URL" "$tmp/SHA256SUMS"
    expected=$(awk -v f="$GDG_ARCHIVE" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")
fi
# One SHA-256, 64 hex digits: anything else (none, several lines, other text) is no checksum.
case "$expected" in
    *[!0-9a-fA-F]* | "") expected_ok=false ;;
    *) [ "${#expected}" -eq 64 ] && expected_ok=true || expected_ok=false ;;
esac
if [ "$expected_ok" != true ]; then
    echo "go-disk-guard: no valid SHA-256 for $GDG_ARCHIVE" >&2
    exit 2
fi
if command -v sha256sum >/dev/null 2>&1; then
    actual=$(sha256sum "$tmp/$GDG_ARCHIVE" | awk '{ print $1 }')
else
    actual=$(shasum -a 256 "$tmp/$GDG_ARCHIVE" | awk '{ print $1 }')
fi
if [ "$actual" != "$expected" ]; then
    echo "go-disk-guard: checksum mismatch for $GDG_ARCHIVE: expected $expected, got $actual" >&2
    exit 2
fi
tar -xzf "$tmp/$GDG_ARCHIVE" -C "$tmp"
rm -f "$tmp/$GDG_ARCHIVE" "$tmp/SHA256SUMS"
[ -f "$tmp/go-disk-guard" ] || { echo "go-disk-guard: the archive holds no go-disk-guard" >&2; exit 1; }
chmod +x "$tmp/go-disk-guard"
touch "$tmp/.verified"
mkdir -p "$(dirname "$GDG_DIR")"
rm -rf "$GDG_DIR"
mv "$tmp" "$GDG_DIR"
