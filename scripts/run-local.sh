#!/usr/bin/env bash
# The main job: `pulumi up` of the `local` stack. Every Kubernetes manifest is rendered to out/manifests;
# state lives in a file backend inside the project (.pulumi-state/, git-ignored). No cluster, no cloud.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/tools-env.sh
source scripts/tools-env.sh

command -v pulumi >/dev/null 2>&1 || { echo "[local] ERROR: pulumi not found: run 'bash scripts/setup.sh' first" >&2; exit 1; }
[ -d node_modules/@pulumi/pulumi ] || { echo "[local] ERROR: npm dependencies missing: run 'bash scripts/setup.sh' first" >&2; exit 1; }

mkdir -p .pulumi-state
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
# Local-only passphrase: it protects nothing but this stack's throw-away state. Never reuse it.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only-not-a-secret}"

pulumi stack select local --create --non-interactive >/dev/null
pulumi up --stack local --yes --non-interactive --skip-preview "$@"

echo
echo "[local] manifests rendered to $PWD/out/manifests:"
find out/manifests -type f | sort | sed 's/^/  /'
