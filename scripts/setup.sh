#!/usr/bin/env bash
# Sets up a fresh machine for this project: npm dependencies (project and policy pack) and the real tools
# (promtool, Pulumi CLI + Node.js language host, Kubernetes provider) built into a versioned cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "[setup] ERROR: '$1' is required: $2" >&2; exit 1; }
}
need node "install Node.js 20 (https://nodejs.org or Debian's nodejs)"
need npm "install npm (it ships with Node.js)"
need go "install Go >= 1.24 (Debian: golang, or https://go.dev/dl)"
need git "install git (Debian: git)"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "[setup] ERROR: Node.js >= 20 is required, found $(node --version)" >&2; exit 1; }

echo "[setup] npm dependencies"
npm ci --ignore-scripts --no-audit --no-fund
if [ -f policy/package.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --prefix policy
fi

# The tests need promtool only; the engine (`setup-tools.sh pulumi kubernetes`) is optional, see README.
bash scripts/setup-tools.sh promtool
