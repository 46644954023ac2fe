#!/usr/bin/env bash
# Installs what bench/run.py needs, idempotently (re-runs are cheap):
#   - from Debian: nginx with the WebDAV module (nginx, else nginx-full / nginx-extras),
#     rclone, wrk (load generator for many small requests), curl (big transfers);
#   - into the project venv (.venv at the repo root, as tests/run makes it, or VENV=/path):
#     the project itself (editable) and py-spy (for run.py --profile).
#
#   bash bench/setup.sh                 # uses ./.venv (created if missing)
#   VENV=/tmp/venv bash bench/setup.sh  # uses an existing venv
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

apt_updated=false
apt_install() {
    if [ "$apt_updated" = false ]; then
        $SUDO apt-get update -qq
        apt_updated=true
    fi
    $SUDO apt-get install -y -qq --no-install-recommends "$@"
}

has_dav() { command -v nginx > /dev/null 2>&1 && nginx -V 2>&1 | grep -q with-http_dav_module; }

# --- 1. Debian packages --------------------------------------------------------
if ! has_dav; then
    log "installing nginx (needs the WebDAV module)"
    apt_install nginx
    if ! has_dav; then
        for pkg in nginx-full nginx-extras; do
            if apt-cache policy "$pkg" 2> /dev/null | grep -q 'Candidate: [0-9]'; then
                log "this nginx lacks http_dav_module: installing $pkg"
                apt_install "$pkg"
                has_dav && break
            fi
        done
    fi
    has_dav || { echo "setup.sh: no nginx with http_dav_module found" >&2; exit 1; }
fi
# Debian's postinst may start the packaged nginx on port 80 where an init system runs; the bench
# starts its own instances with generated configs and never uses that one.

missing=()
for tool in rclone wrk curl; do
    command -v "$tool" > /dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
fi

# --- 2. Python: the project venv -----------------------------------------------
VENV="${VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
    log "creating $VENV"
    python3 -m venv "$VENV" || { apt_install python3-venv && python3 -m venv "$VENV"; }
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
if ! "$VENV/bin/python" -c 'import gateway, httpx, yaml, sqlalchemy' > /dev/null 2>&1 \
    || [ ! -x "$VENV/bin/mft-gateway" ]; then
    log "installing the project into $VENV (pip install -e '.[test]')"
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
fi
if [ ! -x "$VENV/bin/py-spy" ]; then
    log "installing py-spy into $VENV"
    "$VENV/bin/python" -m pip install --quiet py-spy
fi

log "ready: $(nginx -v 2>&1); $(rclone version 2> /dev/null | head -1); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
log "run:   $VENV/bin/python bench/run.py --quick"
