# shellcheck shell=bash
# Source this file (`source scripts/tools-env.sh`) to use the tools that scripts/setup-tools.sh builds.
#
# It only computes paths and sets variables, so it is safe to source before anything is built, and it
# never exits the calling shell. Versions come from components/versions.json (the single place where they
# are pinned); setup-tools.sh sources this file too, so both always agree on where each tool lives.
#
# Exports:
#   PATH                         prefixed with the cached promtool, pulumi (and optional thanos) dirs
#   PROMTOOL                     the promtool that understands kubernetes_sd_configs (Debian's does not)
#   PULUMI_SKIP_UPDATE_CHECK     true: no network calls to look for a newer CLI
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION  true: plugins are built here, never downloaded
# Sets (not exported): PAAS_* variables with versions and paths, used by setup-tools.sh.

_paas_tools_env_main() {
  local script_dir root versions_json out
  script_dir="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)" || return 1
  root="$(cd "$script_dir/.." && pwd)" || return 1
  versions_json="$root/components/versions.json"

  if ! command -v node >/dev/null 2>&1; then
    echo "tools-env.sh: node is required to read $versions_json" >&2
    return 1
  fi
  # One node call; each line is NAME=VALUE. Prometheus 3.x is published as Go module v0.3MM.P -> 3.MM.P.
  if ! out="$(node -e '
      const v = require(process.argv[1]).tools;
      for (const k of ["prometheusModule", "pulumi", "pulumiKubernetes", "thanosModule"]) {
        if (typeof v[k] !== "string" || !v[k]) throw new Error("tools." + k + " missing");
      }
      const m = /^v0\.(\d+)\.(\d+)$/.exec(v.prometheusModule);
      if (!m) throw new Error("tools.prometheusModule is not of the form v0.3MM.P: " + v.prometheusModule);
      const prom = Math.floor(m[1] / 100) + "." + (m[1] % 100) + "." + m[2];
      console.log("PAAS_PROMETHEUS_MODULE_VERSION=" + v.prometheusModule);
      console.log("PAAS_PROMETHEUS_VERSION=" + prom);
      console.log("PAAS_PULUMI_VERSION=" + v.pulumi.replace(/^v/, ""));
      console.log("PAAS_PULUMI_KUBERNETES_VERSION=" + v.pulumiKubernetes.replace(/^v/, ""));
      console.log("PAAS_THANOS_MODULE_VERSION=" + v.thanosModule);
    ' "$versions_json")"; then
    echo "tools-env.sh: cannot read tool versions from $versions_json" >&2
    return 1
  fi
  local line
  while IFS= read -r line; do
    [ -n "$line" ] && printf -v "${line%%=*}" '%s' "${line#*=}"
  done <<<"$out"

  PAAS_ROOT="$root"
  PAAS_TOOLS_DIR="${PAAS_TOOLS_DIR:-$HOME/.cache/prometheus-paas/tools}"
  PAAS_PROMTOOL_DIR="$PAAS_TOOLS_DIR/promtool-$PAAS_PROMETHEUS_MODULE_VERSION"
  PAAS_PULUMI_DIR="$PAAS_TOOLS_DIR/pulumi-$PAAS_PULUMI_VERSION"
  PAAS_PULUMI_KUBERNETES_DIR="$PAAS_TOOLS_DIR/pulumi-kubernetes-$PAAS_PULUMI_KUBERNETES_VERSION"
  PAAS_THANOS_DIR="$PAAS_TOOLS_DIR/thanos-$PAAS_THANOS_MODULE_VERSION"
  PAAS_PULUMI_HOME="${PULUMI_HOME:-$HOME/.pulumi}"

  # Prepend without duplicating when sourced more than once.
  local dir
  for dir in "$PAAS_THANOS_DIR" "$PAAS_PULUMI_DIR" "$PAAS_PROMTOOL_DIR"; do
    case ":$PATH:" in
      *":$dir:"*) ;;
      *) PATH="$dir:$PATH" ;;
    esac
  done
  export PATH
  export PROMTOOL="$PAAS_PROMTOOL_DIR/promtool"
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
}

if _paas_tools_env_main; then
  unset -f _paas_tools_env_main
else
  unset -f _paas_tools_env_main
  # `return` works when sourced; `|| true` only matters if the file was executed instead of sourced.
  return 1 2>/dev/null || true
fi
