# shellcheck shell=bash
# Source this file to use the tools scripts/setup-tools.sh builds: it only computes paths and exports
# variables, so it is safe before anything is built and never exits the calling shell.
#
# Exports PAAS_TOOLCHAIN=offline (the pipeline and the broker then drive these tools, not the user's Pulumi; see
# automation/toolchain.ts), PATH (the tool dirs and scripts/shims first), PULUMI_HOME (project-owned: the
# Kubernetes provider plugin is installed there), PROMTOOL, and the offline Pulumi settings. Sets PAAS_<TOOL>_{VERSION,DIR} and
# PAAS_<TOOL>_* fields of components/versions.json for setup-tools.sh.

_paas_tools_env() {
  local root out line dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)" || return 1
  command -v node >/dev/null 2>&1 || { echo "tools-env.sh: node is required to read components/versions.json" >&2; return 1; }
  # One line per variable: PAAS_<TOOL>_<FIELD>=value, from the tools section of versions.json.
  out="$(node -e '
    const tools = require(process.argv[1]).tools;
    const upper = (s) => s.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
    for (const [name, tool] of Object.entries(tools)) {
      for (const [field, value] of Object.entries(tool)) {
        if (typeof value === "string") console.log(`PAAS_${upper(name)}_${upper(field)}=${value}`);
      }
    }
    // Prometheus 3.x is the Go module v0.3MM.P.
    const m = /^v0\.(\d+)\.(\d+)$/.exec(tools.prometheus.version);
    if (!m) throw new Error("tools.prometheus.version is not of the form v0.3MM.P");
    console.log(`PAAS_PROMETHEUS_RELEASE=${Math.floor(m[1] / 100)}.${m[1] % 100}.${m[2]}`);' "$root/components/versions.json")" || { echo "tools-env.sh: cannot read components/versions.json" >&2; return 1; }
  while IFS= read -r line; do
    [ -n "$line" ] && printf -v "${line%%=*}" '%s' "${line#*=}"
  done <<<"$out"

  PAAS_ROOT="$root"
  PAAS_TOOLS_DIR="${PAAS_TOOLS_DIR:-$HOME/.cache/prometheus-paas/tools}"
  PAAS_PROMETHEUS_DIR="$PAAS_TOOLS_DIR/prometheus-$PAAS_PROMETHEUS_VERSION"
  PAAS_PULUMI_DIR="$PAAS_TOOLS_DIR/pulumi-$PAAS_PULUMI_VERSION"
  PAAS_PULUMI_KUBERNETES_DIR="$PAAS_TOOLS_DIR/pulumi-kubernetes-$PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION-${PAAS_PULUMI_KUBERNETES_VERSION##*-}"
  PAAS_THANOS_DIR="$PAAS_TOOLS_DIR/thanos-$PAAS_THANOS_VERSION"
  PAAS_VERSITYGW_DIR="$PAAS_TOOLS_DIR/versitygw-$PAAS_VERSITYGW_VERSION"
  PAAS_KUBE_APISERVER_DIR="$PAAS_TOOLS_DIR/kube-apiserver-$PAAS_KUBE_APISERVER_VERSION"
  PAAS_CADDY_DIR="$PAAS_TOOLS_DIR/caddy-$PAAS_CADDY_VERSION"
  PAAS_NETPOL_EVAL_DIR="$PAAS_TOOLS_DIR/netpol-eval-$PAAS_NETPOL_EVAL_VERSION"

  for dir in "$root/scripts/shims" "$PAAS_NETPOL_EVAL_DIR" "$PAAS_CADDY_DIR" "$PAAS_KUBE_APISERVER_DIR" "$PAAS_VERSITYGW_DIR" "$PAAS_THANOS_DIR" \
    "$PAAS_PULUMI_DIR/bin" "$PAAS_PROMETHEUS_DIR"; do
    case ":$PATH:" in *":$dir:"*) ;; *) PATH="$dir:$PATH" ;; esac
  done
  export PATH
  export PAAS_TOOLCHAIN=offline
  export PULUMI_HOME="${PAAS_PULUMI_HOME:-$PAAS_TOOLS_DIR/pulumi-home}"
  export PROMTOOL="$PAAS_PROMETHEUS_DIR/promtool"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
}

if ! _paas_tools_env; then
  unset -f _paas_tools_env
  return 1 2>/dev/null || exit 1
fi
unset -f _paas_tools_env
