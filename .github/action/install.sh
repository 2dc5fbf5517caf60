#!/usr/bin/env bash
# The action's install step: puts a go-disk-guard binary in the runner's tool cache and sets
# the step output `path`.
#
# install=release: download the release archive for this runner from the action's own
# repository, verify it against the release's SHA256SUMS *before* unpacking or running it,
# and keep it in the tool cache (<tool cache>/go-disk-guard/<version>/<arch>), so that a second
# use in the job costs nothing. install=source: `cargo install --locked` from the action's
# checkout. install=auto: a release when one matches the version, else source (a branch, a
# commit, or `uses: ./`).
#
# Inputs arrive in the environment: GDG_VERSION (empty: the version in the action's
# Cargo.toml), GDG_INSTALL, GDG_REPOSITORY, GDG_TOKEN, GDG_RUNNER_OS, GDG_RUNNER_ARCH,
# GDG_TOOL_CACHE. GO_DISK_GUARD_DOWNLOAD_URL, when set, replaces the release download base
# (a mirror). `install` and `version` are checked before anything else is done with them.
#
# Every message goes through esc, so that no value in it (an input, a URL, a path) can end its
# line and start a workflow command of its own.
set -euo pipefail

# $1 for a workflow command's message or one line of the log: `%`, CR and LF escaped as the
# runner unescapes them (`%25`, `%0D`, `%0A`), and `##[` (a command anywhere in a line)
# broken up as `#%23[`.
esc() {
    local s=$1
    s=${s//%/%25}
    s=${s//$'\r'/%0D}
    s=${s//$'\n'/%0A}
    s=${s//'##['/#%23[}
    printf '%s' "$s"
}

fail() {
    printf '::error title=go-disk-guard install::%s\n' "$(esc "$1")"
    exit 1
}

say() {
    printf '%s\n' "$(esc "$1")"
}

install="${GDG_INSTALL:-auto}"
case "$install" in
    auto | release | source) ;;
    *) fail "install must be auto, release or source, not '$install'" ;;
esac

# The binary's directory goes on PATH for the rest of the job, so that later steps can run
# `go-disk-guard run -- go test ./...`.
add_to_path() {
    case "$1" in
        *$'\n'* | *$'\r'*) fail "a line break in the install path: $1" ;;
    esac
    printf '%s\n' "$1" >> "$GITHUB_PATH"
}

output() {
    # The delimiter form, so that no value can add another output.
    local delimiter="ghadelimiter_$RANDOM$RANDOM$RANDOM$RANDOM"
    while [[ "$2" == *"$delimiter"* ]]; do
        delimiter="ghadelimiter_$RANDOM$RANDOM$RANDOM$RANDOM"
    done
    printf '%s<<%s\n%s\n%s\n' "$1" "$delimiter" "$2" "$delimiter" >> "$GITHUB_OUTPUT"
}

version="${GDG_VERSION:-}"
if [ -z "$version" ]; then
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$GITHUB_ACTION_PATH/Cargo.toml" | head -n 1)
fi
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || fail "not a release version: $version"

case "${GDG_RUNNER_OS}-${GDG_RUNNER_ARCH}" in
    Linux-X64) target=x86_64-unknown-linux-musl ;;
    Linux-ARM64) target=aarch64-unknown-linux-musl ;;
    macOS-X64) target=x86_64-apple-darwin ;;
    macOS-ARM64) target=aarch64-apple-darwin ;;
    Windows-X64) target=x86_64-pc-windows-msvc ;;
    *) target="" ;;
esac
exe=go-disk-guard
archive="go-disk-guard-v${version}-${target}.tar.gz"
if [ "$GDG_RUNNER_OS" = Windows ]; then
    exe=go-disk-guard.exe
    archive="go-disk-guard-v${version}-${target}.zip"
fi

arch_lower=$(printf '%s' "$GDG_RUNNER_ARCH" | tr '[:upper:]' '[:lower:]')
tool_root="${GDG_TOOL_CACHE:-$RUNNER_TEMP}"
# A release, verified, is kept by version; a build from source by a hash of the source it was
# built from, so that neither is ever taken for the other.
cache_dir="$tool_root/go-disk-guard/${version}/${arch_lower}"

use() {
    say "$2"
    output path "$1/$exe"
    add_to_path "$1"
    exit 0
}

# The SHA-256 of file $1, or of standard input without an argument.
sha256() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$@" | awk '{ print $1 }'
    else
        shasum -a 256 "$@" | awk '{ print $1 }'
    fi
}

# A hash of the source a build reads (the manifest, the lock file and src/), path by path,
# links followed as cargo follows them.
source_hash() {
    (
        cd "$GITHUB_ACTION_PATH" &&
            find -L Cargo.toml Cargo.lock src -type f | LC_ALL=C sort |
            while IFS= read -r file; do
                printf '%s  %s\n' "$(sha256 "$file")" "$file"
            done | sha256
    )
}

# Downloads, verifies and unpacks the release; returns 2 when no release matches.
install_release() {
    [ -n "$target" ] || { say "no release build for ${GDG_RUNNER_OS}-${GDG_RUNNER_ARCH}"; return 2; }
    local base="${GO_DISK_GUARD_DOWNLOAD_URL:-https://github.com/${GDG_REPOSITORY}/releases/download/v${version}}"
    base="${base%/}"
    local tmp
    tmp=$(mktemp -d)
    local auth=()
    if [ -n "${GDG_TOKEN:-}" ] && [[ "$base" == https://github.com/* ]]; then
        auth=(-H "Authorization: Bearer $GDG_TOKEN")
    fi
    if ! curl -fsSL --retry 3 ${auth[@]+"${auth[@]}"} -o "$tmp/$archive" "$base/$archive"; then
        rm -rf "$tmp"
        say "no release archive at $base/$archive"
        return 2
    fi
    curl -fsSL --retry 3 ${auth[@]+"${auth[@]}"} -o "$tmp/SHA256SUMS" "$base/SHA256SUMS" \
        || { rm -rf "$tmp"; fail "the release has no SHA256SUMS: $base/SHA256SUMS"; }
    local expected actual
    expected=$(awk -v f="$archive" '$2 == f || $2 == "*" f { print $1 }' "$tmp/SHA256SUMS")
    actual=$(sha256 "$tmp/$archive")
    if [ -z "$expected" ] || [ "$expected" != "$actual" ]; then
        rm -rf "$tmp"
        fail "checksum mismatch for $archive: expected ${expected:-none}, got $actual; not running it"
    fi
    mkdir -p "$cache_dir"
    case "$archive" in
        *.zip) unzip -q -o "$tmp/$archive" -d "$cache_dir" ;;
        *) tar -xzf "$tmp/$archive" -C "$cache_dir" ;;
    esac
    rm -rf "$tmp"
    [ -f "$cache_dir/$exe" ] || fail "$archive holds no $exe"
    chmod +x "$cache_dir/$exe"
    touch "${cache_dir}.complete"
    say "go-disk-guard $version installed from $base"
}

install_source() {
    local hash source_dir
    hash=$(source_hash) || hash=""
    [[ "$hash" =~ ^[0-9a-f]{64}$ ]] || fail "could not hash the action's source in $GITHUB_ACTION_PATH"
    source_dir="$tool_root/go-disk-guard-source/${hash:0:16}/${arch_lower}"
    if [ -f "${source_dir}.complete" ] && [ -x "$source_dir/$exe" ]; then
        use "$source_dir" "go-disk-guard from source ${hash:0:16}, built before, from the tool cache"
    fi
    command -v cargo >/dev/null 2>&1 || fail "install: source needs cargo (Rust) on the runner"
    say "building go-disk-guard from $GITHUB_ACTION_PATH (source ${hash:0:16})"
    cargo install --locked --quiet --force --path "$GITHUB_ACTION_PATH" --root "$source_dir-build"
    mkdir -p "$source_dir"
    # Copied beside it, then renamed into place: another job may be running the one there.
    cp "$source_dir-build/bin/$exe" "$source_dir/$exe.$$.tmp"
    mv -f "$source_dir/$exe.$$.tmp" "$source_dir/$exe"
    touch "${source_dir}.complete"
    use "$source_dir" "go-disk-guard built from source ${hash:0:16}"
}

# A verified release of this version kept from before serves release and auto; never source,
# which builds the action's own code.
if [ "$install" != source ] && [ -f "${cache_dir}.complete" ] && [ -x "$cache_dir/$exe" ]; then
    use "$cache_dir" "go-disk-guard $version from the tool cache"
fi

case "$install" in
    release)
        install_release || fail "no release of go-disk-guard $version for ${GDG_RUNNER_OS}-${GDG_RUNNER_ARCH}"
        ;;
    source)
        install_source
        ;;
    auto)
        set +e
        install_release
        code=$?
        set -e
        if [ "$code" -eq 2 ]; then
            install_source
        elif [ "$code" -ne 0 ]; then
            exit "$code"
        fi
        ;;
esac
output path "$cache_dir/$exe"
add_to_path "$cache_dir"
