#!/usr/bin/env bash
# Sets up a fresh machine for this project: Debian packages, npm dependencies (project and policy pack), and
# the real tools built from the Go module proxy into a versioned cache (scripts/setup-tools.sh). Every step
# is skipped when already done, and fails loudly naming what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS

fail() { echo "[setup] ERROR: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || fail "'$1' is required: $2"; }
need node "install Node.js 20"
need npm "install npm (it ships with Node.js)"
need go "install Go >= 1.24 (e.g. into /usr/local/go)"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || fail "Node.js >= 20 is required, found $(node --version)"

# etcd for the control-plane tests (Debian's 3.4 serves kube-apiserver fine); openssl makes their certificates;
# busybox is the userland of the Prometheus and Thanos images, in which the local pods run commands and hooks.
debian_packages=()
command -v etcd >/dev/null 2>&1 || debian_packages+=(etcd-server)
command -v openssl >/dev/null 2>&1 || debian_packages+=(openssl)
command -v busybox >/dev/null 2>&1 || debian_packages+=(busybox)
if [ "${#debian_packages[@]}" -gt 0 ]; then
  need apt-get "install ${debian_packages[*]} from your distribution"
  echo "[setup] Debian packages: ${debian_packages[*]}"
  sudo_cmd=()
  [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${debian_packages[@]}" >/tmp/paas-apt.log 2>&1 ||
    { "${sudo_cmd[@]}" apt-get update >>/tmp/paas-apt.log 2>&1 && "${sudo_cmd[@]}" apt-get install -y --no-install-recommends "${debian_packages[@]}" >>/tmp/paas-apt.log 2>&1; } ||
    { tail -n 20 /tmp/paas-apt.log >&2; fail "apt-get install ${debian_packages[*]} failed"; }
  # The package may start a system etcd; the tests run their own on other ports.
  for package in "${debian_packages[@]}"; do dpkg -s "$package" >/dev/null 2>&1 || fail "$package did not install"; done
fi

echo "[setup] npm dependencies"
npm ci --ignore-scripts --no-audit --no-fund
npm ci --ignore-scripts --no-audit --no-fund --prefix policy
echo "[setup] npm done after $((SECONDS - start))s"

bash scripts/setup-tools.sh
echo "[setup] done in $((SECONDS - start))s"
