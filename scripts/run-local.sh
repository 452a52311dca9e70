#!/usr/bin/env bash
# The main job: `up` of the `local` stack through the real Pulumi engine (the pipeline CLI, inline program,
# policy pack enforced). The Kubernetes provider renders every manifest to out/manifests; state is a file
# backend in .pulumi-state/. Extra arguments go to the pipeline (e.g. --json summary.json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/tools-env.sh
source scripts/tools-env.sh

[ -d node_modules/@pulumi/pulumi ] && [ -d policy/node_modules ] ||
  { echo "[local] ERROR: npm dependencies missing: run 'bash scripts/setup.sh' first" >&2; exit 1; }

mkdir -p .pulumi-state out
export PULUMI_BACKEND_URL="file://$PWD/.pulumi-state"
# Local-only passphrase (Pulumi.local.yaml's encryptionsalt was made with it): it protects nothing but this
# throw-away state. Never reuse it for a real stack.
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local-only-not-a-secret}"

summary=out/local-summary.json
status=0
npx --no-install ts-node --transpile-only automation/cli.ts up local --create --yes --policy-pack policy --json "$summary" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "[local] ERROR: up of the local stack failed (exit $status); see above. If the engine is missing: bash scripts/setup.sh" >&2
  exit "$status"
fi

node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).stacks[0];
  const total = Object.values(s.changes).reduce((a, b) => a + b, 0);
  const parts = Object.entries(s.changes).map(([op, n]) => `${op} ${n}`).join(", ");
  console.log(`[local] the engine reports ${total} resources (${parts}) in ${(s.durationMs / 1000).toFixed(1)}s`);
' "$summary"
echo "[local] $(find out/manifests -type f -name '*.yaml' | wc -l) manifests of the local stack in $PWD/out/manifests"
