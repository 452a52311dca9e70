#!/usr/bin/env bash
# Builds the real tools the program and its tests run, from the Go module proxy, into a versioned cache:
#
#   scripts/setup-tools.sh [TOOL...]    default: all of them
#
#   prometheus         prometheus + promtool (Kubernetes SD included; Debian's promtool lacks it)
#   pulumi             the Pulumi CLI (skipped when pulumi of the pinned version and its Node.js host are on PATH)
#   pulumi-kubernetes  the Kubernetes provider, installed as a plugin into the project's PULUMI_HOME
#   thanos             thanos (sidecar, store, query, compact, tools)
#   versitygw          an S3 server over a folder, for the data-path tests
#   kube-apiserver     the Kubernetes API server, for the control-plane tests (etcd comes from Debian)
#   caddy              the tenants' history front (authenticates, sets the tenant, passes the tenant APIs)
#   netpol-eval        tools/netpol-eval: NetworkPolicy verdicts for a traffic matrix (cyclonus' matcher), for the tests
#
# Versions: components/versions.json (tools). Cache: ${PAAS_TOOLS_DIR:-~/.cache/prometheus-paas/tools}, a dir
# per tool and version; a tool that is present and reports its version is skipped. Module downloads run in
# parallel (network-bound); each tool compiles once its download is done, two at a time (a link is
# single-threaded). A module the proxy does not serve at its pinned version fails the step; nothing falls back.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/tools-env.sh
source "$SCRIPT_DIR/tools-env.sh"

ALL_TOOLS=(prometheus pulumi pulumi-kubernetes thanos versitygw kube-apiserver caddy netpol-eval)
# Longest compile first (cold on 2 cores, 2026-12-06: prometheus 596 s, pulumi-kubernetes 570, kube-apiserver 518,
# pulumi 363, thanos 348, netpol-eval 208, versitygw 207, caddy 145): of the downloaded tools, the first in this
# order compiles next, so the long ones do not start last.
COMPILE_ORDER=(prometheus pulumi-kubernetes kube-apiserver pulumi thanos netpol-eval versitygw caddy)
LOG_DIR="$PAAS_TOOLS_DIR/logs"

log() { printf '[tools] %s\n' "$*"; }
die() { printf '[tools] ERROR (%s): %s\n' "${TOOL:-setup}" "$*" >&2; exit 1; }

usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# ------------------------------------------------------------------------------------------------ helpers

# Prints field $2 (e.g. Dir, GoMod) of module $1 (path@version), downloading it; fails naming the module.
module_field() {
  local json
  # stdout is the JSON (with an Error field on failure); stderr only notes such as a toolchain switch.
  json="$(go mod download -json "$1")" || die "the Go module proxy ($(go env GOPROXY)) does not serve $1: $(printf '%s' "$json" | tr '\n' ' ' | cut -c1-300)"
  node -e 'const m = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!m[process.argv[1]]) process.exit(1); console.log(m[process.argv[1]]);' "$2" <<<"$json"
}

# Writes into dir $1 a module requiring $2@$3 that repeats the upstream go.mod's replaces (Go ignores a
# dependency's replaces). A replace by a local path (a dir of the upstream checkout) points at the published
# module of that path at version $4, or is an error when $4 is empty.
wrapper_module() {
  local dir=$1 mod=$2 ver=$3 local_ver=${4:-} gomod old new nver
  mkdir -p "$dir"
  printf 'module paas.local/tools/%s\n\ngo 1.24\n' "$TOOL" >"$dir/go.mod"
  gomod="$(cd "$dir" && module_field "$mod@$ver" GoMod)"
  go -C "$dir" mod edit "-require=$mod@$ver"
  while IFS=$'\t' read -r old new nver; do
    [ -n "$old" ] || continue
    case "$new" in
      ./* | ../*)
        [ -n "$local_ver" ] || die "$mod@$ver replaces $old by the local path $new; no published version is configured for it"
        go -C "$dir" mod edit "-replace=$old=${old%@*}@$local_ver" ;;
      *) go -C "$dir" mod edit "-replace=$old=$new@$nver" ;;
    esac
  done < <(go mod edit -json "$gomod" | node -e '
    for (const r of JSON.parse(require("fs").readFileSync(0, "utf8")).Replace || [])
      console.log([r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : ""), r.New.Path, r.New.Version || ""].join("\t"));')
}

# Resolves and downloads everything packages $2... of module dir $1 import (the network part of a build).
resolve_packages() {
  local dir=$1
  shift
  go -C "$dir" get "$@" || die "cannot resolve $* and their dependencies through the module proxy"
  go -C "$dir" list -deps "${@%@*}" >/dev/null || die "cannot load ${*%@*} (see above)"
}

# Runs `$1 $2` and checks that its output contains $3. The output is read whole first: a `| grep -q` under
# pipefail fails at random when grep exits before the tool has written its last lines (SIGPIPE).
reports_version() {
  local out
  [ -x "$1" ] || return 1
  out="$("$1" $2 2>&1)" || return 1
  [[ "$out" == *"$3"* ]]
}

# ------------------------------------------------------------------------------------------------ tools
# Each tool: ready_<tool> (present and right version?), prepare_<tool> (downloads; run in parallel),
# compile_<tool> (CPU; run one at a time). Work happens in $BUILD/<tool>, the result moves into place last.

ready_prometheus() { reports_version "$PAAS_PROMETHEUS_DIR/promtool" --version "version $PAAS_PROMETHEUS_RELEASE" && reports_version "$PAAS_PROMETHEUS_DIR/prometheus" --version "version $PAAS_PROMETHEUS_RELEASE"; }
prepare_prometheus() {
  wrapper_module "$1" "$PAAS_PROMETHEUS_MODULE" "$PAAS_PROMETHEUS_VERSION"
  resolve_packages "$1" "$PAAS_PROMETHEUS_MODULE/cmd/prometheus@$PAAS_PROMETHEUS_VERSION" "$PAAS_PROMETHEUS_MODULE/cmd/promtool@$PAAS_PROMETHEUS_VERSION"
}
compile_prometheus() {
  local v=github.com/prometheus/common/version
  go -C "$1" build -o "$1/out/" -ldflags "-s -w -X $v.Version=$PAAS_PROMETHEUS_RELEASE -X $v.Revision=$PAAS_PROMETHEUS_VERSION -X $v.Branch=$PAAS_PROMETHEUS_VERSION" \
    "$PAAS_PROMETHEUS_MODULE/cmd/prometheus" "$PAAS_PROMETHEUS_MODULE/cmd/promtool"
  install_tool "$1/out" "$PAAS_PROMETHEUS_DIR"
}

# A pulumi of the pinned version with its Node.js language host (a normal Pulumi install) needs no build.
system_pulumi() {
  local p
  p="$(PATH="${PATH//$PAAS_PULUMI_DIR\/bin:/}" command -v pulumi)" || return 1
  [ "$("$p" version 2>/dev/null)" = "$PAAS_PULUMI_VERSION" ] && command -v pulumi-language-nodejs >/dev/null && echo "$p"
}
ready_pulumi() { system_pulumi >/dev/null || reports_version "$PAAS_PULUMI_DIR/bin/pulumi" version "$PAAS_PULUMI_VERSION"; }
prepare_pulumi() {
  wrapper_module "$1" "$PAAS_PULUMI_MODULE" "$PAAS_PULUMI_VERSION" "$PAAS_PULUMI_VERSION" # sdk/v3 => ../sdk
  resolve_packages "$1" "$PAAS_PULUMI_MODULE/cmd/pulumi@$PAAS_PULUMI_VERSION"
}
compile_pulumi() {
  # Without the version stamp the CLI says v3.0.0 and the Automation API refuses it.
  go -C "$1" build -o "$1/out/bin/pulumi" -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PAAS_PULUMI_VERSION" \
    "$PAAS_PULUMI_MODULE/cmd/pulumi"
  install_tool "$1/out" "$PAAS_PULUMI_DIR"
}

# The proxy serves no release tag of the provider, only one commit (between v4.24.0 and 4.24.1): it is built
# from a copy of that module, its `../sdk` replace swapped for the published SDK, and labelled 4.24.1.
ready_pulumi_kubernetes() { [ -x "$PAAS_PULUMI_KUBERNETES_DIR/pulumi-resource-kubernetes" ]; }
prepare_pulumi_kubernetes() {
  local src sdk=github.com/pulumi/pulumi-kubernetes/sdk/v4
  src="$(module_field "$PAAS_PULUMI_KUBERNETES_MODULE@$PAAS_PULUMI_KUBERNETES_VERSION" Dir)"
  cp -r "$src/." "$1"
  chmod -R u+w "$1"
  go -C "$1" mod edit "-dropreplace=$sdk" "-require=$sdk@$PAAS_PULUMI_KUBERNETES_SDK_VERSION"
  if go mod edit -json "$1/go.mod" | grep -q '"Path": "\.'; then
    die "$PAAS_PULUMI_KUBERNETES_MODULE has another local-path replace: $(go mod edit -json "$1/go.mod" | grep '"Path": "\.')"
  fi
  # What upstream's `go generate` does: embed the committed schema, stamped with the version.
  (cd "$1/cmd/pulumi-resource-kubernetes" && VERSION="$PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION" go run generate.go)
  go -C "$1" list -deps ./cmd/pulumi-resource-kubernetes >/dev/null || die "cannot load the provider's packages (see above)"
}
compile_pulumi_kubernetes() {
  go -C "$1" build -o "$1/out/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $PAAS_PULUMI_KUBERNETES_MODULE/pkg/version.Version=$PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION" ./cmd/pulumi-resource-kubernetes
  install_tool "$1/out" "$PAAS_PULUMI_KUBERNETES_DIR"
}

ready_thanos() { reports_version "$PAAS_THANOS_DIR/thanos" --version "version ${PAAS_THANOS_VERSION#v} "; }
prepare_thanos() {
  wrapper_module "$1" "$PAAS_THANOS_MODULE" "$PAAS_THANOS_VERSION"
  resolve_packages "$1" "$PAAS_THANOS_MODULE/cmd/thanos@$PAAS_THANOS_VERSION"
  # The release build's tags (.promu.yml build.tags.all: netgo, slicelabels).
  node -e '
    const y = require("js-yaml").load(require("fs").readFileSync(process.argv[1], "utf8"));
    const t = (y.build && y.build.tags) || {};
    console.log([].concat(t.all || [], t.linux || []).join(","));' "$(module_field "$PAAS_THANOS_MODULE@$PAAS_THANOS_VERSION" Dir)/.promu.yml" >"$1/tags"
}
compile_thanos() {
  local v=github.com/prometheus/common/version
  go -C "$1" build -o "$1/out/thanos" -tags "$(cat "$1/tags")" \
    -ldflags "-s -w -X $v.Version=${PAAS_THANOS_VERSION#v} -X $v.Revision=$PAAS_THANOS_VERSION -X $v.Branch=$PAAS_THANOS_VERSION" \
    "$PAAS_THANOS_MODULE/cmd/thanos"
  install_tool "$1/out" "$PAAS_THANOS_DIR"
}

ready_versitygw() { reports_version "$PAAS_VERSITYGW_DIR/versitygw" --version "$PAAS_VERSITYGW_VERSION"; }
prepare_versitygw() {
  wrapper_module "$1" "$PAAS_VERSITYGW_MODULE" "$PAAS_VERSITYGW_VERSION"
  resolve_packages "$1" "$PAAS_VERSITYGW_MODULE/cmd/versitygw@$PAAS_VERSITYGW_VERSION"
}
compile_versitygw() {
  go -C "$1" build -o "$1/out/versitygw" -ldflags "-s -w -X main.Version=$PAAS_VERSITYGW_VERSION" "$PAAS_VERSITYGW_MODULE/cmd/versitygw"
  install_tool "$1/out" "$PAAS_VERSITYGW_DIR"
}

# k8s.io/kubernetes replaces its k8s.io/* staging modules by dirs of its checkout: wrapper_module points each
# at the published module of the same release (v0.37.2 for v1.37.2).
ready_kube_apiserver() { reports_version "$PAAS_KUBE_APISERVER_DIR/kube-apiserver" --version "Kubernetes $PAAS_KUBE_APISERVER_VERSION"; }
prepare_kube_apiserver() {
  wrapper_module "$1" "$PAAS_KUBE_APISERVER_MODULE" "$PAAS_KUBE_APISERVER_VERSION" "$PAAS_KUBE_APISERVER_STAGING_VERSION"
  resolve_packages "$1" "$PAAS_KUBE_APISERVER_MODULE/cmd/kube-apiserver@$PAAS_KUBE_APISERVER_VERSION"
}
compile_kube_apiserver() {
  local v=k8s.io/component-base/version minor
  minor="${PAAS_KUBE_APISERVER_VERSION#v1.}"
  minor="${minor%%.*}"
  go -C "$1" build -o "$1/out/kube-apiserver" -ldflags "-s -w -X $v.gitVersion=$PAAS_KUBE_APISERVER_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean" \
    "$PAAS_KUBE_APISERVER_MODULE/cmd/kube-apiserver"
  install_tool "$1/out" "$PAAS_KUBE_APISERVER_DIR"
}

# The official image's build (cmd/caddy: the standard modules); its version is set as the release's is.
ready_caddy() { reports_version "$PAAS_CADDY_DIR/caddy" version "$PAAS_CADDY_VERSION"; }
prepare_caddy() {
  wrapper_module "$1" "$PAAS_CADDY_MODULE" "$PAAS_CADDY_VERSION"
  resolve_packages "$1" "$PAAS_CADDY_MODULE/cmd/caddy@$PAAS_CADDY_VERSION"
}
compile_caddy() {
  go -C "$1" build -o "$1/out/caddy" -ldflags "-s -w -X $PAAS_CADDY_MODULE.CustomVersion=$PAAS_CADDY_VERSION" "$PAAS_CADDY_MODULE/cmd/caddy"
  install_tool "$1/out" "$PAAS_CADDY_DIR"
}

# The project's own program (tools/netpol-eval) on the pinned cyclonus; its version names the source's digest, so
# a changed source is rebuilt.
netpol_eval_version() { printf 'cyclonus-%s-source-%s' "$PAAS_NETPOL_EVAL_VERSION" "$(cat "$PAAS_ROOT/tools/netpol-eval/go.mod" "$PAAS_ROOT/tools/netpol-eval/main.go" | sha256sum | cut -c1-12)"; }
ready_netpol_eval() { reports_version "$PAAS_NETPOL_EVAL_DIR/netpol-eval" --version "$(netpol_eval_version)"; }
prepare_netpol_eval() {
  cp "$PAAS_ROOT/tools/netpol-eval/go.mod" "$PAAS_ROOT/tools/netpol-eval/go.sum" "$PAAS_ROOT/tools/netpol-eval/main.go" "$1/"
  go -C "$1" mod edit "-require=$PAAS_NETPOL_EVAL_MODULE@$PAAS_NETPOL_EVAL_VERSION"
  go -C "$1" list -deps . >/dev/null || die "cannot load tools/netpol-eval's packages through the module proxy (see above)"
}
compile_netpol_eval() {
  go -C "$1" build -o "$1/out/netpol-eval" -ldflags "-s -w -X main.version=$(netpol_eval_version)" .
  install_tool "$1/out" "$PAAS_NETPOL_EVAL_DIR"
}

# Replaces tool dir $2 by the finished dir $1 (one rename: a tool is whole or absent).
install_tool() {
  rm -rf "$2"
  mv -T "$1" "$2"
}

# The provider is loaded as the plugin version the npm SDK asks for (its package version).
install_kubernetes_plugin() {
  local pulumi
  pulumi="$(system_pulumi || echo "$PAAS_PULUMI_DIR/bin/pulumi")"
  listed() { "$pulumi" plugin ls --json 2>/dev/null | node -e '
    const ls = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
    process.exit(ls.some((p) => p.kind === "resource" && p.name === "kubernetes" && p.version === process.argv[1]) ? 0 : 1);' "$PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION"; }
  if listed; then
    log "pulumi-kubernetes: plugin $PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION installed in $PULUMI_HOME"
    return
  fi
  "$pulumi" plugin install resource kubernetes "$PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION" \
    --file "$PAAS_PULUMI_KUBERNETES_DIR/pulumi-resource-kubernetes" --reinstall >/dev/null
  listed || die "pulumi plugin ls does not list kubernetes $PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION after the install"
  log "pulumi-kubernetes: installed as plugin $PAAS_PULUMI_KUBERNETES_PLUGIN_VERSION (commit ${PAAS_PULUMI_KUBERNETES_VERSION##*-}) in $PULUMI_HOME"
}

# ------------------------------------------------------------------------------------------------ main

main() {
  local tools=() tool failed=() rc
  for tool in "$@"; do
    case "$tool" in
      -h | --help) usage; exit 0 ;;
      prometheus | pulumi | pulumi-kubernetes | thanos | versitygw | kube-apiserver | caddy | netpol-eval) tools+=("$tool") ;;
      *) usage >&2; die "unknown tool '$tool'; allowed: ${ALL_TOOLS[*]}" ;;
    esac
  done
  [ "${#tools[@]}" -gt 0 ] || tools=("${ALL_TOOLS[@]}")
  command -v go >/dev/null || die "Go is not on PATH: install Go >= 1.24 (e.g. /usr/local/go/bin)"

  mkdir -p "$PAAS_TOOLS_DIR" "$LOG_DIR"
  exec 9>"$PAAS_TOOLS_DIR/.lock"
  flock 9 # one setup at a time per tools dir
  export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
  BUILD="$(mktemp -d "$PAAS_TOOLS_DIR/.build.XXXXXX")"
  trap 'rm -rf "$BUILD"' EXIT

  local todo=() started=$SECONDS
  for tool in "${tools[@]}"; do
    if "ready_${tool//-/_}"; then log "$tool: ready"; else todo+=("$tool"); fi
  done

  # Every download starts at once; a tool compiles as soon as its download is done, at most $PAAS_TOOLS_JOBS
  # compiles at a time (2: a link is single-threaded, so a second compile keeps the other core busy).
  local jobs=${PAAS_TOOLS_JOBS:-2} running=0 pid queue=() kind next queued remaining=()
  declare -A job_tool=() job_kind=() job_start=()
  start_job() { # kind tool
    local fn=${2//-/_}
    if [ "$1" = download ]; then
      ( TOOL=$2; set -Eeuo pipefail; mkdir -p "$BUILD/$2"; "prepare_$fn" "$BUILD/$2" ) >"$LOG_DIR/$2.log" 2>&1 &
    else
      # Not `if ( ... )`: bash ignores errexit inside a condition.
      ( TOOL=$2; set -Eeuo pipefail; "compile_$fn" "$BUILD/$2"; "ready_$fn" ) >>"$LOG_DIR/$2.log" 2>&1 &
      running=$((running + 1))
    fi
    job_tool[$!]=$2 job_kind[$!]=$1 job_start[$!]=$SECONDS
  }
  next_compile() { # the downloaded tools; prints the one to compile next
    local candidate queued
    for candidate in "${COMPILE_ORDER[@]}"; do
      for queued in "$@"; do [ "$queued" != "$candidate" ] || { echo "$candidate"; return; }; done
    done
    echo "$1"
  }
  for tool in "${todo[@]}"; do start_job download "$tool"; done
  while [ "${#job_tool[@]}" -gt 0 ]; do
    pid=""
    if wait -n -p pid "${!job_tool[@]}"; then rc=0; else rc=$?; fi
    [ -n "$pid" ] || continue
    tool=${job_tool[$pid]} kind=${job_kind[$pid]}
    unset "job_tool[$pid]"
    [ "$kind" = download ] || running=$((running - 1))
    if [ "$rc" -ne 0 ]; then
      failed+=("$tool")
      printf '[tools] %s: %s failed (exit %s); last lines of %s:\n' "$tool" "$kind" "$rc" "$LOG_DIR/$tool.log" >&2
      grep -v '^go: downloading' "$LOG_DIR/$tool.log" | tail -n 25 >&2
    else
      log "$tool: ${kind} done in $((SECONDS - job_start[$pid]))s (at $((SECONDS - started))s)"
      [ "$kind" = download ] && queue+=("$tool")
    fi
    while [ "$running" -lt "$jobs" ] && [ "${#queue[@]}" -gt 0 ]; do
      next=$(next_compile "${queue[@]}")
      start_job compile "$next"
      remaining=()
      for queued in "${queue[@]}"; do [ "$queued" = "$next" ] || remaining+=("$queued"); done
      queue=("${remaining[@]+"${remaining[@]}"}")
    done
  done

  case " ${tools[*]} " in
    *" pulumi-kubernetes "*)
      case " ${failed[*]-} " in
        *" pulumi "* | *" pulumi-kubernetes "*) ;;
        *) ( TOOL=pulumi-kubernetes; install_kubernetes_plugin ) || failed+=("pulumi-kubernetes plugin install") ;;
      esac ;;
  esac

  if [ "${#failed[@]}" -gt 0 ]; then
    die "FAILED: ${failed[*]} (after $((SECONDS - started))s; logs in $LOG_DIR)"
  fi
  log "all tools ready in $((SECONDS - started))s ($PAAS_TOOLS_DIR)"
}

main "$@"
