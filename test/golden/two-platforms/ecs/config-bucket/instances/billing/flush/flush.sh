#!/bin/sh
# The shutdown flush of one Prometheus replica: a TSDB snapshot with the head, the blocks of the snapshot that the
# bucket lacks uploaded with the replica's external labels (the set its sidecar gives its own uploads), then the
# snapshot removed. Two callers, one script (busybox sh, wget, awk of the images):
# - Kubernetes: the preStop hook of the Prometheus container. The kubelet sends Prometheus SIGTERM only when this
#   returns, so Prometheus still serves the snapshot request.
# - ECS (--wait-for-term): the main process of a container of the replica's task, which depends on Prometheus. It
#   waits for the SIGTERM of the task's stop; ECS stops a container only after those that depend on it, so
#   Prometheus serves until this returns (or the container's stopTimeout kills it).
# It never runs past --deadline seconds. What it could not flush it logs and it exits 1: the kubelet records a
# FailedPreStopHook event (without the output), then stops the container all the same. The hook's own output only
# reaches the kubelet's log, so every line also goes to --log: /proc/1/fd/1, the container's log.
#
#   flush.sh --url=URL --user=NAME --password-file=FILE --tsdb=DIR --objstore=FILE --thanos=BINARY
#            --labels=FILE --envsubst=AWK_PROGRAM --deadline=SECONDS [--log=FILE] [--wait-for-term]
# --labels: one `name="value"` per line (Go-quoted, as `thanos tools bucket upload-blocks --label` wants it), with
# `$(VAR)` placeholders the envsubst program fills from the environment like the sidecar's reloader does.
set -u

url= user= password_file= tsdb= objstore= thanos= labels= envsubst= deadline= log_file= wait_for_term=
for arg in "$@"; do
  case "$arg" in
    --url=*) url=${arg#*=} ;;
    --user=*) user=${arg#*=} ;;
    --password-file=*) password_file=${arg#*=} ;;
    --tsdb=*) tsdb=${arg#*=} ;;
    --objstore=*) objstore=${arg#*=} ;;
    --thanos=*) thanos=${arg#*=} ;;
    --labels=*) labels=${arg#*=} ;;
    --envsubst=*) envsubst=${arg#*=} ;;
    --deadline=*) deadline=${arg#*=} ;;
    --log=*) log_file=${arg#*=} ;;
    --wait-for-term) wait_for_term=1 ;;
    *) echo "level=error msg=\"unknown argument\" argument=\"$arg\"" >&2; exit 2 ;;
  esac
done
for required in url user password_file tsdb objstore thanos labels envsubst deadline; do
  eval "value=\$$required"
  [ -n "$value" ] || { echo "level=error msg=\"missing argument\" argument=--$(echo "$required" | tr _ -)" >&2; exit 2; }
done
case "$deadline" in *[!0-9]*) echo "level=error msg=\"--deadline takes whole seconds\" deadline=\"$deadline\"" >&2; exit 2 ;; esac

# /proc/uptime: a clock with hundredths of a second in every image (busybox date has no %N).
now() { read -r seconds _ < /proc/uptime; echo "$seconds"; }
since() { awk -v from="$1" '{ printf "%.2f", $1 - from }' /proc/uptime; }
remaining() { awk -v from="$started" -v deadline="$deadline" '{ left = int(deadline - ($1 - from)); print (left > 0 ? left : 0) }' /proc/uptime; }
log() {
  line="level=$1 msg=\"$2\"${3:+ $3}"
  echo "$line"
  [ -z "$log_file" ] || (echo "caller=flush.sh $line" >> "$log_file") 2>/dev/null || true
}
snapshot=

if [ -n "$wait_for_term" ]; then
  # A trapped signal ends `wait` at once (a foreground sleep would delay it by up to an hour).
  terminated=
  trap 'terminated=1' TERM
  while [ -z "$terminated" ]; do
    sleep 3600 &
    wait $! 2>/dev/null
  done
  kill $! 2>/dev/null
  trap - TERM
fi
# The deadline counts from the stop.
started=$(now)
[ -z "$wait_for_term" ] || log info "stop signal received: flushing"

# The blocks of the snapshot the shipper has not recorded as in the bucket (uploaded, or found there).
unconfirmed_blocks() {
  for block in "$snapshot"/*/; do
    [ -f "$block/meta.json" ] || continue
    grep -q "\"$(basename "$block")\"" "$snapshot/thanos.shipper.json" 2>/dev/null || basename "$block"
  done
}
report_unflushed() {
  [ -n "$snapshot" ] && [ -d "$snapshot" ] || return 0
  for ulid in $(unconfirmed_blocks); do
    min=$(sed -n 's/^[[:space:]]*"minTime":[[:space:]]*\([0-9]*\).*/\1/p' "$snapshot/$ulid/meta.json" | head -n 1)
    max=$(sed -n 's/^[[:space:]]*"maxTime":[[:space:]]*\([0-9]*\).*/\1/p' "$snapshot/$ulid/meta.json" | head -n 1)
    log error "block not confirmed in the bucket" "block=$ulid from=$(date -u -d "@$((min / 1000))" +%Y-%m-%dT%H:%M:%SZ) to=$(date -u -d "@$((max / 1000))" +%Y-%m-%dT%H:%M:%SZ) minutes=$(((max - min) / 60000))"
  done
}
fail() {
  log error "flush failed: samples since the last uploaded block are lost when the TSDB goes" "reason=\"$1\" seconds=$(since "$started")"
  report_unflushed
  exit 1
}
trap '[ -z "$snapshot" ] || rm -rf "$snapshot"' EXIT

# Snapshots of an earlier, interrupted flush would only take room the head block needs.
rm -rf "$tsdb/snapshots"

left=$(remaining)
[ "$left" -gt 0 ] || fail "deadline of ${deadline}s reached before the snapshot"
auth=$(printf '%s:%s' "$user" "$(cat "$password_file")" | base64 | tr -d '\n')
phase=$(now)
# wget's progress and errors go to the same capture: the answer is found by its field, an error is the last line.
response=$(timeout -s KILL "$left" wget -O - --post-data= --header "Authorization: Basic $auth" "$url/api/v1/admin/tsdb/snapshot?skip_head=false" 2>&1) ||
  fail "snapshot request to $url failed after $(since "$phase")s of ${left}s left: $(printf '%s' "$response" | tail -n 1 | tr -d '"')"
name=$(printf '%s' "$response" | sed -n 's/.*"name":"\([^"]*\)".*/\1/p')
[ -n "$name" ] && [ -d "$tsdb/snapshots/$name" ] || fail "the snapshot answer names no snapshot in $tsdb/snapshots: $response"
snapshot="$tsdb/snapshots/$name"
# The head block is the one Prometheus wrote for the snapshot (link count 1); the others are hard links of persisted blocks.
head_block=
for block in "$snapshot"/*/; do
  [ -f "$block/index" ] && [ "$(stat -c %h "$block/index")" = 1 ] && head_block=$(basename "$block")
done
log info "snapshot taken" "snapshot=$name blocks=$(ls -d "$snapshot"/*/ 2>/dev/null | wc -l) head_block=${head_block:-none} head_block_kib=$([ -n "$head_block" ] && du -sk "$snapshot/$head_block" | cut -f1 || echo 0) seconds=$(since "$phase")"

labels_out=$(awk -f "$envsubst" "$labels" 2>&1) || fail "labels of $labels: $labels_out"
set --
while IFS= read -r line; do
  [ -z "$line" ] || set -- "$@" "--label=$line"
done <<EOF
$labels_out
EOF
[ "$#" -gt 0 ] || fail "$labels holds no label: the blocks would not be the replica's"

left=$(remaining)
[ "$left" -gt 0 ] || fail "deadline of ${deadline}s reached before the upload"
phase=$(now)
# KILL: on TERM upload-blocks shuts down gracefully and exits 0, and busybox timeout passes that status on.
upload=$(timeout -s KILL "$left" "$thanos" tools bucket upload-blocks --log.format=logfmt --log.level=warn --objstore.config-file="$objstore" --path="$snapshot" "$@" 2>&1)
status=$?
if [ "$status" -ne 0 ]; then
  # Thanos' error without its stack trace (logfmt escapes the trace's line breaks as \n).
  error=$(printf '%s' "$upload" | sed -n 's/.* err=//p' | sed 's/\\n.*//' | tr -d '"\\' | tail -n 1)
  fail "upload-blocks exited $status after $(since "$phase")s of ${left}s left: ${error:-no error of its own, stopped at the deadline}"
fi
unconfirmed=$(unconfirmed_blocks | tr '\n' ' ')
[ -z "$unconfirmed" ] || fail "upload-blocks exited 0 without recording ${unconfirmed}as in the bucket"
log info "flushed" "snapshot=$name upload_seconds=$(since "$phase") seconds=$(since "$started")"
