#!/usr/bin/env bash
# The project's test command. On a fresh Debian bookworm machine with rustup's Rust,
# it installs what the tests start (Debian packages, cargo-nextest, memcached's own
# test suite and pymemcache's), then runs every test and prints the totals. Each
# install step checks first: a second run installs nothing.
#
#   ./test.sh                 install what is missing, then run all the tests
#   ./test.sh --install-only  only the install steps
#
# Tests keep going past failures; the exit status is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# What the tests start or read: stock memcached and twemproxy (the references),
# memcached's command-line tools, python clients, sasl and TLS tools (memcached -S
# needs libsasl2's PLAIN plugin, only a recommendation of libsasl2), a headless
# browser for the admin page, perl for memcached's suite (TLS through
# IO::Socket::SSL), python3-venv for pymemcache's suite, dpkg-dev to unpack
# Debian's memcached source, and dnsmasq (the binary alone, no service) serving the
# DNS records that pools are discovered from.
APT_PACKAGES=(
    memcached nutcracker libmemcached-tools python3-pymemcache python3-matplotlib
    ca-certificates openssl sasl2-bin libsasl2-modules chromium perl libio-socket-ssl-perl
    python3-venv dpkg-dev xz-utils dnsmasq-base
)
# pymemcache's integration suite ships in its wheel (pymemcache/test/); the pins
# keep the run reproducible.
PIP_PACKAGES=(pymemcache==4.0.0 pytest==9.2.0 pluggy==1.7.0 iniconfig==2.3.1 packaging==26.4 Pygments==2.21.0)

UPSTREAM="$root/target/upstream"
APT_UPDATED=""

apt_update() {
    if [ -z "$APT_UPDATED" ]; then
        $SUDO apt-get update -qq
        APT_UPDATED=1
    fi
}

install_apt_packages() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "test.sh: installing ${missing[*]}"
        apt_update
        $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# The Debian package starts a memcached service on 11211; tests pick their own ports
# (memcached's t/issue_67.t needs 11211 free), so it is stopped.
stop_memcached_service() {
    if systemctl is-active --quiet memcached 2>/dev/null; then
        $SUDO systemctl stop memcached
    elif service memcached status >/dev/null 2>&1; then
        $SUDO service memcached stop >/dev/null
    fi
}

install_nextest() {
    if ! cargo nextest --version >/dev/null 2>&1; then
        echo "test.sh: installing cargo-nextest"
        cargo install cargo-nextest --locked
    fi
}

# memcached's own test suite (t/*.t), from Debian's source package of the installed
# memcached, so the suite matches the reference binary it also runs against.
fetch_memcached_suite() {
    local version
    version=$(dpkg-query -W -f='${Version}' memcached)
    local dest="$UPSTREAM/memcached"
    if [ "$(cat "$dest/.debian-version" 2>/dev/null)" = "$version" ]; then
        return
    fi
    echo "test.sh: fetching memcached $version's source (Debian) for its test suite"
    if ! apt-cache showsrc "memcached=$version" 2>/dev/null | grep -q "^Version: $version\$"; then
        # Bookworm's updates come from the main archive and from debian-security.
        $SUDO tee /etc/apt/sources.list.d/debian-src.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
        APT_UPDATED=""
        apt_update
    fi
    local work="$UPSTREAM/memcached.fetch"
    rm -rf "$work" "$dest"
    mkdir -p "$work"
    # dpkg-source chatters on stdout: its output is shown only when it fails.
    if ! (cd "$work" && apt-get source -qq "memcached=$version" >"$work/apt-get-source.log" 2>&1); then
        cat "$work/apt-get-source.log" >&2
        exit 1
    fi
    local unpacked
    unpacked=$(find "$work" -mindepth 1 -maxdepth 1 -type d -name 'memcached-*' | head -n1)
    if [ -z "$unpacked" ] || [ ! -f "$unpacked/t/lib/MemcachedTest.pm" ]; then
        echo "test.sh: apt-get source memcached=$version gave no t/ directory" >&2
        exit 1
    fi
    mv "$unpacked" "$dest"
    rm -rf "$work"
    echo "$version" >"$dest/.debian-version"
}

make_pymemcache_venv() {
    local venv="$UPSTREAM/venv"
    local want
    want=$(printf '%s\n' "${PIP_PACKAGES[@]}" | sort | tr '\n' ' ')
    if [ "$(cat "$venv/.packages" 2>/dev/null)" = "$want" ]; then
        return
    fi
    echo "test.sh: making $venv with ${PIP_PACKAGES[*]}"
    rm -rf "$venv"
    # Debian's python (the one python3-venv belongs to), whatever else is on PATH.
    /usr/bin/python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
    echo "$want" >"$venv/.packages"
}

install_apt_packages
stop_memcached_service
install_nextest
mkdir -p "$UPSTREAM"
fetch_memcached_suite
make_pymemcache_venv

if [ "${1-}" = --install-only ]; then
    exit 0
fi

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
log="$UPSTREAM/test-run.log"
status=0

# Doc tests (nextest does not run those), then nextest for the unit and integration
# tests; both run whatever the other's result.
cargo test --workspace --doc 2>&1 | tee "$log" || status=1
cargo nextest run --workspace --no-fail-fast 2>&1 | tee -a "$log" || status=1

# Totals: the doc tests' "test result:" lines plus nextest's summary line.
sum() { { grep -oE "[0-9]+ $1" || true; } | awk '{ n += $1 } END { print n + 0 }'; }
doc_results=$(grep -E '^test result:' "$log" || true)
nextest_summary=$(grep -E '^ *Summary \[' "$log" | tail -n1 || true)
passed=$(($(echo "$doc_results" | sum passed) + $(echo "$nextest_summary" | sum passed)))
failed=$(($(echo "$doc_results" | sum failed) + $(echo "$nextest_summary" | sum failed) + $(echo "$nextest_summary" | sum 'timed out')))
skipped=$(($(echo "$doc_results" | sum ignored) + $(echo "$nextest_summary" | sum skipped)))
if [ "$status" != 0 ] && [ "$failed" = 0 ]; then
    # A build error or a crash of the runner: no test failed, yet the run did.
    failed=1
fi
echo
echo "total: $passed passed, $failed failed, $skipped skipped"
exit "$status"
