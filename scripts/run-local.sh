#!/usr/bin/env bash
# The main job: the `local` stack's Kubernetes manifests in out/manifests, with no cluster and no cloud.
# With the full engine (pulumi CLI, Node.js language host, Kubernetes provider plugin) it runs `pulumi up`
# of the local stack (renderYamlToDirectory, file backend in .pulumi-state/). Without it, it renders the same
# objects through the offline renderer (automation/render.ts: the program under the SDK's mock monitor).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/tools-env.sh
source scripts/tools-env.sh

[ -d node_modules/@pulumi/pulumi ] || { echo "[local] ERROR: npm dependencies missing: run 'bash scripts/setup.sh' first" >&2; exit 1; }

engine_missing=""
command -v pulumi >/dev/null 2>&1 || engine_missing="pulumi CLI"
command -v pulumi-language-nodejs >/dev/null 2>&1 || engine_missing="${engine_missing:+$engine_missing, }Node.js language host"
if [ -z "$engine_missing" ] && ! pulumi plugin ls 2>/dev/null | grep -q "^kubernetes .*4\.32\.0"; then
  engine_missing="Kubernetes provider plugin 4.32.0"
fi

if [ -n "$engine_missing" ]; then
  echo "[local] the Pulumi engine is incomplete here (missing: $engine_missing); rendering without it."
  echo "[local] (`bash scripts/setup-tools.sh pulumi kubernetes` builds it where the Go module proxy serves its modules; see README)"
  npx --no-install ts-node --transpile-only automation/render.ts --stack local --out out/manifests
else
  mkdir -p .pulumi-state
  export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
  # Local-only passphrase: it protects nothing but this stack's throw-away state. Never reuse it.
  export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only-not-a-secret}"
  pulumi stack select local --create --non-interactive >/dev/null
  pulumi up --stack local --yes --non-interactive --skip-preview "$@"
fi

echo
echo "[local] manifests of the local stack in $PWD/out/manifests:"
find out/manifests -type f | sort | sed 's/^/  /'
