#!/usr/bin/env bash
# Builds the real tools this project checks its output with, from Go modules, into a versioned cache.
#
#   scripts/setup-tools.sh               promtool, then the Pulumi engine, then the Kubernetes provider
#   scripts/setup-tools.sh promtool      promtool only (it is needed first: renderer tests run it)
#   scripts/setup-tools.sh pulumi        the Pulumi CLI + Node.js language host only
#   scripts/setup-tools.sh kubernetes    the Kubernetes provider (needs the Pulumi CLI to install it)
#   scripts/setup-tools.sh --with-thanos [STEP...]   also build Thanos (optional, for data-path tests)
#
# Why build: this machine (and CI) reaches only the Go module proxy, npm and Debian. Pulumi's installer and
# plugin downloads cannot work, and Debian's promtool is built without Kubernetes service discovery.
#
# Versions come from components/versions.json; paths are computed by scripts/tools-env.sh, which you source
# afterwards to use the tools. Cache: ${PAAS_TOOLS_DIR:-$HOME/.cache/prometheus-paas/tools}, one versioned
# dir per tool. A tool whose binary is present and answers --version is skipped, so a warm run takes
# seconds. Each tool is built in a temporary dir beside its final place and renamed into place only once it
# works, so an interrupted build never leaves a half-built tool. Every requested step is attempted; the
# script exits non-zero naming the steps that failed.
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

STEP="startup"
log() { printf '[setup] %s\n' "$*"; }
warn() { printf '[setup] WARNING (%s): %s\n' "$STEP" "$*" >&2; }
die() {
  printf '[setup] ERROR in step "%s": %s\n' "$STEP" "$*" >&2
  exit 1
}
on_err() {
  printf '[setup] ERROR in step "%s": command failed (exit %s) at setup-tools.sh:%s: %s\n' \
    "$STEP" "$1" "$2" "$3" >&2
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

usage() { sed -n '2,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

# shellcheck source=scripts/tools-env.sh
source "$SCRIPT_DIR/tools-env.sh" || die "cannot compute tool paths (scripts/tools-env.sh failed)"

# ------------------------------------------------------------------------------------------ build helpers

TMP_DIRS=()
cleanup() {
  local d
  for d in "${TMP_DIRS[@]+"${TMP_DIRS[@]}"}"; do rm -rf "$d"; done
}
trap cleanup EXIT

# Sets BUILD_DIR to a fresh scratch dir inside the tools dir (same filesystem, so moving the result into
# place is a rename). Not a $(...) helper: the dir must be registered for cleanup in this shell.
new_build_dir() {
  mkdir -p "$PAAS_TOOLS_DIR"
  BUILD_DIR="$(mktemp -d "$PAAS_TOOLS_DIR/.build-$1.XXXXXX")"
  TMP_DIRS+=("$BUILD_DIR")
}

# Replaces dir $2 by the finished dir $1.
install_dir() {
  rm -rf "$2"
  mv -T "$1" "$2"
}

# Moves finished files $3... from dir $1 into dir $2, one rename each (a file is whole or absent).
install_files() {
  local from=$1 to=$2 f
  shift 2
  mkdir -p "$to"
  for f in "$@"; do mv -f "$from/$f" "$to/$f"; done
}

require_go() {
  command -v go >/dev/null 2>&1 ||
    die "Go is not installed or not on PATH: install Go >= 1.24 (e.g. into /usr/local/go) and run again"
  local v major minor
  v="$(go env GOVERSION)"
  v="${v#go}"
  major="${v%%.*}"
  minor="${v#*.}"
  minor="${minor%%[!0-9]*}"
  if [ "$major" -lt 1 ] || { [ "$major" -eq 1 ] && [ "$minor" -lt 24 ]; }; then
    die "Go $v is too old: install Go >= 1.24"
  fi
}

# Go's default module and build caches are shared by all builds, so a rebuild only recompiles what changed.
# -mod=mod lets the throw-away wrapper modules complete their go.mod; -trimpath keeps local paths out of
# the binaries. GOTOOLCHAIN=auto (unless set in the environment): when a pinned module needs a newer Go
# than the installed one (Thanos v0.42.5 needs 1.26.10), `go` fetches that toolchain as the module
# golang.org/toolchain through GOPROXY, checksum-verified, into the module cache.
setup_go_env() {
  export CGO_ENABLED=0
  export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath -mod=mod"
  export GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
}

# Writes an empty throw-away module into dir $1.
new_wrapper_module() {
  mkdir -p "$1"
  printf 'module paas.local/tools/%s\n\ngo 1.24\n' "$2" >"$1/go.mod"
}

# Copies into the module in dir $1 the `replace` directives of go.mod file $2 that point at other modules.
# A dependency's replaces are ignored by Go, so a wrapper must repeat them; replaces of local paths
# (../sdk) point into the upstream repository checkout and are dropped.
copy_module_replaces() {
  local dir=$1 gomod=$2 line
  while IFS=$'\t' read -r old new; do
    [ -n "$old" ] || continue
    case "$new" in ./* | ../* | /*) continue ;; esac
    line="$old=${new% *}@${new##* }"
    go -C "$dir" mod edit "-replace=$line"
    log "  replace $old => $new (as in the upstream go.mod)"
  done < <(go mod edit -json "$gomod" | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of m.Replace || []) {
      const old = r.Old.Path + (r.Old.Version ? "@" + r.Old.Version : "");
      // local paths have no version; module targets are "path version"
      console.log(old + "\t" + r.New.Path + (r.New.Version ? " " + r.New.Version : ""));
    }')
}

# Prints the module proxy URL Go uses (first http(s) entry of GOPROXY), or nothing.
proxy_url() {
  local p
  p="$(go env GOPROXY)"
  p="${p//|/,}"
  local IFS=,
  for p in $p; do
    case "$p" in http://* | https://*)
      printf '%s\n' "${p%/}"
      return
      ;;
    esac
  done
}

# Prints the highest version in the proxy's list for module $1 that is lower than $2 (semver order).
lower_version_on_proxy() {
  local mod=$1 below=$2 base esc
  base="$(proxy_url)"
  [ -n "$base" ] || return 1
  esc="$(sed -E 's/([A-Z])/!\L\1/g' <<<"$mod")"
  curl -fsS --max-time 120 "$base/$esc/@v/list" 2>/dev/null | node -e '
    const below = process.argv[1];
    const parse = (v) => {
      const m = /^v(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(\+incompatible)?$/.exec(v);
      return m && { n: [m[1], m[2], m[3]].map(BigInt), pre: m[4] ? m[4].split(".") : [], inc: !!m[5] };
    };
    const cmp = (a, b) => {
      for (let i = 0; i < 3; i++) if (a.n[i] !== b.n[i]) return a.n[i] < b.n[i] ? -1 : 1;
      if (!a.pre.length || !b.pre.length) return b.pre.length - a.pre.length;
      for (let i = 0; i < Math.max(a.pre.length, b.pre.length); i++) {
        if (i >= a.pre.length) return -1;
        if (i >= b.pre.length) return 1;
        const x = a.pre[i], y = b.pre[i], xn = /^\d+$/.test(x), yn = /^\d+$/.test(y);
        if (xn && yn) { if (BigInt(x) !== BigInt(y)) return BigInt(x) < BigInt(y) ? -1 : 1; }
        else if (xn !== yn) return xn ? -1 : 1;
        else if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    };
    const b = parse(below);
    const best = require("fs").readFileSync(0, "utf8").split(/\s+/)
      .map((v) => [v, parse(v)]).filter(([, p]) => p && b && p.inc === b.inc && cmp(p, b) < 0)
      .sort((x, y) => cmp(x[1], y[1])).pop();
    if (!best) process.exit(1);
    console.log(best[0]);
  ' "$below"
}

# Prints a go command's log without the per-module download/add chatter.
show_go_log() { grep -v -E '^go: (downloading|added|upgraded|found) ' "$1" || true; }

# Runs `go -C DIR ARGS...` (a get/download that resolves modules) and works around what a partial
# module proxy cannot serve, then retries:
#  - a dependency version the proxy refuses (403/404/410) is replaced by the closest lower version it
#    has, with a warning (never for the modules named in $2, a space-separated list: those must be exact);
#  - a module version the checksum database does not know (lookup 404/410) is added to GONOSUMDB, with a
#    warning; its hash is still recorded in the wrapper's go.sum.
# On a complete proxy neither happens and this is a plain `go get`.
go_resolve() {
  local dir=$1 exact=" $2 " attempt changed mod ver alt
  shift 2
  local out="$dir/.go-resolve.log"
  for attempt in $(seq 1 20); do
    if go -C "$dir" "$@" >"$out" 2>&1; then
      show_go_log "$out" || true
      return 0
    fi
    changed=0
    while read -r mod; do
      [ -n "$mod" ] || continue
      case ",${GONOSUMDB:-}," in *",$mod,"*) continue ;; esac
      warn "the checksum database does not know $mod; accepting it unverified (GONOSUMDB)"
      export GONOSUMDB="${GONOSUMDB:+$GONOSUMDB,}$mod"
      changed=1
    done < <(grep -oE '/lookup/[^@[:space:]]+@[^[:space:]:]+: (404 Not Found|410 Gone)' "$out" |
      sed -E 's#^/lookup/([^@]+)@.*#\1#' | sort -u || true)
    while read -r mod ver; do
      [ -n "$mod" ] || continue
      case "$exact" in *" $mod "*)
        show_go_log "$out" >&2 || true
        die "the Go module proxy ($(proxy_url)) does not serve $mod@$ver"
        ;;
      esac
      alt="$(lower_version_on_proxy "$mod" "$ver")" || {
        show_go_log "$out" >&2 || true
        die "the Go module proxy does not serve $mod@$ver and has no lower version of it"
      }
      warn "the Go module proxy does not serve $mod@$ver; using $alt instead (replace in the wrapper module)"
      go -C "$dir" mod edit "-replace=$mod=$mod@$alt"
      changed=1
    done < <(grep -oE '[^[:space:]]+@v[^[:space:]:]+: reading [^[:space:]]+/@v/[^[:space:]]+: (403 Forbidden|404 Not Found|410 Gone)' "$out" |
      sed -E 's#^([^[:space:]]+)@(v[^[:space:]:]+): .*#\1 \2#' | sort -u || true)
    if [ "$changed" = 0 ]; then
      show_go_log "$out" >&2 || true
      return 1
    fi
    log "  retrying module resolution (attempt $((attempt + 1)))"
  done
  show_go_log "$out" >&2 || true
  return 1
}

# Prints field $2 (e.g. Version, Origin.Hash, Dir, GoMod) of `go list -m -json $1` (a module@query).
go_mod_field() {
  local json
  json="$(cd "$BUILD_DIR" && go list -m -json "$1" 2>"$BUILD_DIR/.go-list.err")" || {
    cat "$BUILD_DIR/.go-list.err" >&2
    return 1
  }
  node -e '
    let v = JSON.parse(process.argv[1]);
    for (const k of process.argv[2].split(".")) v = v == null ? undefined : v[k];
    if (v == null || v === "") process.exit(1);
    console.log(v);
  ' "$json" "$2"
}

# --------------------------------------------------------------------------------------------- promtool

promtool_works() {
  local bin=$1 out dir rc=0
  [ -x "$bin" ] || return 1
  out="$("$bin" --version 2>&1)" || return 1
  case "$out" in *"version $PAAS_PROMETHEUS_VERSION "*) ;; *) return 1 ;; esac
  # The reason to build promtool at all: Debian's rejects kubernetes_sd_configs.
  dir="$(mktemp -d)"
  printf '%s\n' 'scrape_configs:' '  - job_name: tsuru-pods' '    kubernetes_sd_configs:' \
    '      - role: pod' >"$dir/prometheus.yml"
  "$bin" check config "$dir/prometheus.yml" >"$dir/out" 2>&1 || {
    rc=$?
    cat "$dir/out" >&2
  }
  rm -rf "$dir"
  return "$rc"
}

build_promtool() {
  STEP="promtool"
  local final="$PAAS_PROMTOOL_DIR" mod="$PAAS_PROMETHEUS_MODULE_VERSION"
  if promtool_works "$final/promtool"; then
    log "promtool $mod already built: $final/promtool"
    return
  fi
  require_go
  log "building promtool (Prometheus $PAAS_PROMETHEUS_VERSION = github.com/prometheus/prometheus@$mod)"
  local start=$SECONDS
  new_build_dir "promtool-$mod"
  local build=$BUILD_DIR
  new_wrapper_module "$build/src" promtool
  go_resolve "$build/src" github.com/prometheus/prometheus get "github.com/prometheus/prometheus/cmd/promtool@$mod" ||
    die "cannot resolve github.com/prometheus/prometheus/cmd/promtool@$mod and its dependencies"
  # The same version stamp as Prometheus' release build (promu), so --version reports 3.x.
  local v=github.com/prometheus/common/version
  mkdir -p "$build/out"
  go -C "$build/src" build -o "$build/out/promtool" -ldflags "-s -w \
    -X $v.Version=$PAAS_PROMETHEUS_VERSION -X $v.Revision=$mod -X $v.Branch=$mod \
    -X $v.BuildUser=prometheus-paas-setup -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" \
    github.com/prometheus/prometheus/cmd/promtool || die "go build of promtool failed (see above)"
  promtool_works "$build/out/promtool" ||
    die "the built promtool does not report version $PAAS_PROMETHEUS_VERSION or rejects kubernetes_sd_configs"
  install_dir "$build/out" "$final"
  log "built promtool $mod in $((SECONDS - start))s: $final/promtool"
  log "  $("$final/promtool" --version 2>&1 | head -n1)"
}

# ------------------------------------------------------------------------------- Pulumi CLI + language host

PULUMI_PKG=github.com/pulumi/pulumi/pkg/v3
PULUMI_SDK=github.com/pulumi/pulumi/sdk/v3
PULUMI_NODEJS_HOST=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3

pulumi_is_wanted_version() {
  local out
  out="$("$1" version 2>/dev/null)" || return 1
  [ "$out" = "v$PAAS_PULUMI_VERSION" ]
}

# pulumi-resource-pulumi-nodejs (dynamic providers) and, where a package ships it, pulumi-analyzer-policy
# are shell scripts inside the npm packages; a Pulumi release puts them beside the CLI.
copy_npm_plugins() {
  local to=$1 sdk_dir found=0 f
  sdk_dir="$(cd "$PAAS_ROOT" && node -p 'require("path").dirname(require.resolve("@pulumi/pulumi/package.json"))' 2>/dev/null)" ||
    die "@pulumi/pulumi is not installed in $PAAS_ROOT/node_modules: run npm ci first"
  local dirs=("$sdk_dir" "$(dirname "$sdk_dir")/policy")
  for f in $(find "${dirs[@]}" -maxdepth 2 -type f \( -name 'pulumi-resource-pulumi-nodejs' \
    -o -name 'pulumi-analyzer-policy' \) 2>/dev/null || true); do
    cp "$f" "$to/$(basename "$f")"
    chmod 0755 "$to/$(basename "$f")"
    log "  copied $(basename "$f") from ${f#"$PAAS_ROOT"/}"
    found=1
  done
  [ "$found" = 1 ] || die "pulumi-resource-pulumi-nodejs not found in $sdk_dir"
}

build_pulumi_cli() {
  local final="$PAAS_PULUMI_DIR" ver="v$PAAS_PULUMI_VERSION" start=$SECONDS
  log "building the Pulumi CLI $ver ($PULUMI_PKG/cmd/pulumi)"
  new_build_dir "pulumi-cli-$ver"
  local build=$BUILD_DIR
  new_wrapper_module "$build/src" pulumi
  go -C "$build/src" mod edit "-require=$PULUMI_PKG@$ver" "-require=$PULUMI_SDK@$ver"
  go_resolve "$build/src" "$PULUMI_PKG $PULUMI_SDK" mod download "$PULUMI_PKG" ||
    die "cannot download $PULUMI_PKG@$ver"
  copy_module_replaces "$build/src" "$(go_mod_field "$PULUMI_PKG@$ver" GoMod)"
  go_resolve "$build/src" "$PULUMI_PKG $PULUMI_SDK" get "$PULUMI_PKG/cmd/pulumi@$ver" ||
    die "cannot resolve $PULUMI_PKG/cmd/pulumi@$ver and its dependencies"
  mkdir -p "$build/out"
  # Without the version stamp the CLI reports v3.0.0 and the Automation API rejects it.
  go -C "$build/src" build -o "$build/out/pulumi" \
    -ldflags "-s -w -X $PULUMI_SDK/go/common/version.Version=$ver" "$PULUMI_PKG/cmd/pulumi" ||
    die "go build of the Pulumi CLI failed (see above)"
  copy_npm_plugins "$build/out"
  pulumi_is_wanted_version "$build/out/pulumi" ||
    die "the built pulumi does not report version $ver: $("$build/out/pulumi" version 2>&1 || true)"
  install_files "$build/out" "$final" $(ls "$build/out")
  log "built pulumi $ver in $((SECONDS - start))s: $final/pulumi"
}

build_pulumi_language_nodejs() {
  local final="$PAAS_PULUMI_DIR" ver="v$PAAS_PULUMI_VERSION" start=$SECONDS commit host_ver
  log "building pulumi-language-nodejs $ver"
  new_build_dir "pulumi-language-nodejs-$ver"
  local build=$BUILD_DIR
  new_wrapper_module "$build/src" pulumi-language-nodejs
  # The language host has no release tags of its own: take it at the commit of the pkg/$ver tag.
  commit="$(go_mod_field "$PULUMI_PKG@$ver" Origin.Hash)" ||
    die "cannot find the commit of $PULUMI_PKG@$ver through the module proxy"
  host_ver="$(go_mod_field "$PULUMI_NODEJS_HOST@$commit" Version)" ||
    die "the Go module proxy ($(proxy_url)) does not serve $PULUMI_NODEJS_HOST at commit ${commit:0:12} (the pkg/$ver tag), so the Node.js language host cannot be built"
  log "  $PULUMI_NODEJS_HOST@$host_ver (commit ${commit:0:12})"
  # The host's own go.mod points pkg/sdk at the checkout (v3.0.0-0001...): require the real versions.
  go -C "$build/src" mod edit "-require=$PULUMI_NODEJS_HOST@$host_ver" \
    "-require=$PULUMI_PKG@$ver" "-require=$PULUMI_SDK@$ver"
  go_resolve "$build/src" "$PULUMI_PKG $PULUMI_SDK" mod download "$PULUMI_PKG" ||
    die "cannot download $PULUMI_PKG@$ver"
  copy_module_replaces "$build/src" "$(go_mod_field "$PULUMI_PKG@$ver" GoMod)"
  go_resolve "$build/src" "$PULUMI_PKG $PULUMI_SDK $PULUMI_NODEJS_HOST" get "$PULUMI_NODEJS_HOST@$host_ver" ||
    die "cannot resolve $PULUMI_NODEJS_HOST@$host_ver and its dependencies"
  mkdir -p "$build/out"
  go -C "$build/src" build -o "$build/out/pulumi-language-nodejs" \
    -ldflags "-s -w -X $PULUMI_SDK/go/common/version.Version=$ver" "$PULUMI_NODEJS_HOST" ||
    die "go build of pulumi-language-nodejs failed (see above)"
  install_files "$build/out" "$final" pulumi-language-nodejs
  log "built pulumi-language-nodejs $ver in $((SECONDS - start))s: $final/pulumi-language-nodejs"
}

build_pulumi() {
  STEP="pulumi"
  local ver="v$PAAS_PULUMI_VERSION" onpath
  onpath="$(command -v pulumi || true)"
  if [ -n "$onpath" ] && [ "$(dirname "$onpath")" != "$PAAS_PULUMI_DIR" ] && pulumi_is_wanted_version "$onpath"; then
    log "using pulumi $ver already on PATH: $onpath (nothing to build)"
    return
  fi
  local cli_ok=0 host_ok=0
  if pulumi_is_wanted_version "$PAAS_PULUMI_DIR/pulumi" && [ -x "$PAAS_PULUMI_DIR/pulumi-resource-pulumi-nodejs" ]; then
    cli_ok=1
    log "pulumi $ver already built: $PAAS_PULUMI_DIR/pulumi"
  fi
  if [ -x "$PAAS_PULUMI_DIR/pulumi-language-nodejs" ]; then
    host_ok=1
    log "pulumi-language-nodejs $ver already built: $PAAS_PULUMI_DIR/pulumi-language-nodejs"
  fi
  [ "$cli_ok" = 1 ] && [ "$host_ok" = 1 ] && return
  require_go
  [ "$cli_ok" = 1 ] || build_pulumi_cli
  STEP="pulumi-language-nodejs"
  [ "$host_ok" = 1 ] || build_pulumi_language_nodejs
}

# --------------------------------------------------------------------------------- Kubernetes provider

K8S_PROVIDER=github.com/pulumi/pulumi-kubernetes/provider/v4
K8S_SDK=github.com/pulumi/pulumi-kubernetes/sdk/v4

# The pulumi to install the plugin with: the one on PATH (tools-env.sh puts the cached one first).
pulumi_bin() {
  local p
  p="$(command -v pulumi || true)"
  if [ -z "$p" ] || ! pulumi_is_wanted_version "$p"; then
    die "pulumi v$PAAS_PULUMI_VERSION is needed to install the provider: run scripts/setup-tools.sh pulumi first"
  fi
  printf '%s\n' "$p"
}

k8s_plugin_installed() {
  local pulumi=$1
  PULUMI_HOME="$PAAS_PULUMI_HOME" "$pulumi" plugin ls --json 2>/dev/null | node -e '
    const want = process.argv[1];
    const ls = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]");
    process.exit(ls.some((p) => p.name === "kubernetes" && p.kind === "resource" && p.version === want) ? 0 : 1);
  ' "$PAAS_PULUMI_KUBERNETES_VERSION"
}

install_k8s_plugin() {
  local pulumi bin="$PAAS_PULUMI_KUBERNETES_DIR/pulumi-resource-kubernetes"
  pulumi="$(pulumi_bin)"
  if k8s_plugin_installed "$pulumi"; then
    log "kubernetes plugin $PAAS_PULUMI_KUBERNETES_VERSION already installed in $PAAS_PULUMI_HOME/plugins"
    return
  fi
  PULUMI_HOME="$PAAS_PULUMI_HOME" "$pulumi" plugin install resource kubernetes "$PAAS_PULUMI_KUBERNETES_VERSION" \
    --file "$bin" --reinstall || die "pulumi plugin install resource kubernetes failed"
  k8s_plugin_installed "$pulumi" || die "pulumi plugin ls does not list kubernetes $PAAS_PULUMI_KUBERNETES_VERSION after install"
  log "installed kubernetes plugin $PAAS_PULUMI_KUBERNETES_VERSION into $PAAS_PULUMI_HOME/plugins"
}

build_kubernetes() {
  STEP="kubernetes"
  local ver="v$PAAS_PULUMI_KUBERNETES_VERSION" final="$PAAS_PULUMI_KUBERNETES_DIR"
  if [ -x "$final/pulumi-resource-kubernetes" ]; then
    log "kubernetes provider $ver already built: $final/pulumi-resource-kubernetes"
    install_k8s_plugin
    return
  fi
  require_go
  pulumi_bin >/dev/null # fail before a 15-minute build, not after it
  local start=$SECONDS mod_ver commit
  log "building the Kubernetes provider $ver ($K8S_PROVIDER/cmd/pulumi-resource-kubernetes)"
  new_build_dir "pulumi-kubernetes-$ver"
  local build=$BUILD_DIR
  # Use the provider module's own tag if the proxy has one, else its pseudo-version at the release commit
  # (found through the sdk/$ver tag, which marks the same commit).
  if ! mod_ver="$(go_mod_field "$K8S_PROVIDER@$ver" Version 2>/dev/null)"; then
    commit="$(go_mod_field "$K8S_SDK@$ver" Origin.Hash)" ||
      die "cannot find the commit of the $ver release through the module proxy ($K8S_SDK@$ver)"
    mod_ver="$(go_mod_field "$K8S_PROVIDER@$commit" Version)" ||
      die "the Go module proxy ($(proxy_url)) does not serve $K8S_PROVIDER (neither @$ver nor at the release commit ${commit:0:12}), so the Kubernetes provider cannot be built"
  fi
  log "  $K8S_PROVIDER@$mod_ver"
  go_resolve "$build" "$K8S_PROVIDER" mod download "$K8S_PROVIDER@$mod_ver" ||
    die "cannot download $K8S_PROVIDER@$mod_ver"
  local src
  src="$(go_mod_field "$K8S_PROVIDER@$mod_ver" Dir)" || die "cannot locate $K8S_PROVIDER@$mod_ver in the module cache"
  # Build the module itself (so its own replaces apply), from a writable copy.
  cp -r "$src" "$build/provider"
  chmod -R u+w "$build/provider"
  local old new
  while IFS=$'\t' read -r old new; do
    case "$new" in ./* | ../* | /*)
      go -C "$build/provider" mod edit "-dropreplace=$old"
      log "  dropped replace $old => $new (a path in the upstream checkout; not needed to compile)"
      ;;
    esac
  done < <(go mod edit -json "$build/provider/go.mod" | node -e '
    const m = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const r of m.Replace || []) console.log(r.Old.Path + "\t" + r.New.Path);')
  local cmd_dir="$build/provider/cmd/pulumi-resource-kubernetes"
  if [ ! -f "$cmd_dir/schema-embed.json" ]; then
    # What `go generate` does upstream: the committed schema.json, stamped with the version.
    (cd "$cmd_dir" && VERSION="$PAAS_PULUMI_KUBERNETES_VERSION" go run generate.go) ||
      die "generating schema-embed.json (go run generate.go) failed"
  fi
  go_resolve "$build/provider" "$K8S_PROVIDER" mod download ||
    die "cannot download the dependencies of $K8S_PROVIDER@$mod_ver"
  mkdir -p "$build/out"
  go -C "$build/provider" build -o "$build/out/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X $K8S_PROVIDER/pkg/version.Version=$PAAS_PULUMI_KUBERNETES_VERSION" \
    ./cmd/pulumi-resource-kubernetes || die "go build of the Kubernetes provider failed (see above)"
  install_dir "$build/out" "$final"
  log "built the Kubernetes provider $ver in $((SECONDS - start))s: $final/pulumi-resource-kubernetes"
  install_k8s_plugin
}

# -------------------------------------------------------------------------------------- Thanos (optional)

thanos_works() {
  local out
  [ -x "$1" ] || return 1
  out="$("$1" --version 2>&1)" || return 1
  case "$out" in *"version ${PAAS_THANOS_MODULE_VERSION#v} "*) ;; *) return 1 ;; esac
}

build_thanos() {
  STEP="thanos"
  local mod=github.com/thanos-io/thanos ver="$PAAS_THANOS_MODULE_VERSION" final="$PAAS_THANOS_DIR"
  if thanos_works "$final/thanos"; then
    log "thanos $ver already built: $final/thanos"
    return
  fi
  require_go
  local start=$SECONDS
  log "building thanos $ver ($mod/cmd/thanos)"
  new_build_dir "thanos-$ver"
  local build=$BUILD_DIR
  new_wrapper_module "$build/src" thanos
  go -C "$build/src" mod edit "-require=$mod@$ver"
  go_resolve "$build/src" "$mod" mod download "$mod" || die "cannot download $mod@$ver"
  copy_module_replaces "$build/src" "$(go_mod_field "$mod@$ver" GoMod)"
  go_resolve "$build/src" "$mod" get "$mod/cmd/thanos@$ver" ||
    die "cannot resolve $mod/cmd/thanos@$ver and its dependencies"
  # Build tags of the release build: .promu.yml build.tags.all (netgo, slicelabels for v0.42).
  local tags
  tags="$(cd "$PAAS_ROOT" && node -e '
    const y = require("js-yaml").load(require("fs").readFileSync(process.argv[1], "utf8"));
    const t = (y.build && y.build.tags) || {};
    console.log([].concat(t.all || [], t.linux || []).join(","));
  ' "$(go_mod_field "$mod@$ver" Dir)/.promu.yml")" || die "cannot read the build tags from thanos' .promu.yml"
  log "  build tags: ${tags:-none}"
  local v=github.com/prometheus/common/version
  mkdir -p "$build/out"
  go -C "$build/src" build -o "$build/out/thanos" ${tags:+-tags "$tags"} -ldflags "-s -w \
    -X $v.Version=${ver#v} -X $v.Revision=$ver -X $v.Branch=$ver -X $v.BuildUser=prometheus-paas-setup \
    -X $v.BuildDate=$(date -u +%Y%m%d-%H:%M:%S)" "$mod/cmd/thanos" || die "go build of thanos failed (see above)"
  thanos_works "$build/out/thanos" || die "the built thanos does not report version ${ver#v}"
  install_dir "$build/out" "$final"
  log "built thanos $ver in $((SECONDS - start))s: $final/thanos"
}

# ------------------------------------------------------------------------------------------------- main

main() {
  local steps=() with_thanos=0 arg
  for arg in "$@"; do
    case "$arg" in
      promtool | pulumi | kubernetes) steps+=("$arg") ;;
      all) steps+=(promtool pulumi kubernetes) ;;
      --with-thanos) with_thanos=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        usage >&2
        die "unknown argument: $arg"
        ;;
    esac
  done
  [ "${#steps[@]}" -gt 0 ] || steps=(promtool pulumi kubernetes)
  [ "$with_thanos" = 0 ] || steps+=(thanos)

  mkdir -p "$PAAS_TOOLS_DIR"
  # One setup at a time per tools dir; scratch dirs left by a killed run are then safe to remove.
  exec 9>"$PAAS_TOOLS_DIR/.lock"
  if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
    log "waiting for another setup-tools.sh using $PAAS_TOOLS_DIR"
    flock 9
  fi
  rm -rf "$PAAS_TOOLS_DIR"/.build-*
  setup_go_env

  local total_start=$SECONDS step failed=() rc
  log "tools dir: $PAAS_TOOLS_DIR; steps: ${steps[*]}"
  for step in "${steps[@]}"; do
    # Each step in a subshell, so a failing step does not stop the others. Not `( ... ) || ...`: bash
    # would then ignore errexit inside the subshell.
    trap - ERR
    set +e
    (
      set -e
      trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
      trap cleanup EXIT
      "build_$step"
    )
    rc=$?
    set -e
    trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
    [ "$rc" = 0 ] || failed+=("$step")
  done
  STEP="summary"
  if [ "${#failed[@]}" -gt 0 ]; then
    printf '[setup] FAILED steps: %s (after %ss; see the ERROR lines above)\n' "${failed[*]}" \
      "$((SECONDS - total_start))" >&2
    exit 1
  fi
  log "all requested tools ready in $((SECONDS - total_start))s; use them with: source scripts/tools-env.sh"
}

main "$@"
