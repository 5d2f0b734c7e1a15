#!/usr/bin/env bash
# Local infrastructure for Gerbang without Docker: one Apache Kafka 4.x broker (single-node
# KRaft, combined broker + controller, jars from Maven Central) and Debian's redis-server,
# both bound to 127.0.0.1 only.
#
# Usage: infra.sh up | down [--wipe] | status | kafka-up | kafka-down | redis-up | redis-down
#
# Idempotent: `up` on a running stack is a no-op that only checks readiness. A process counts
# as ours only if its pid file names a live process whose /proc/<pid>/cmdline shows what we
# started; anything else on our ports is foreign and is never signalled.
#
# State lives outside git, in ${GERBANG_HOME:-$HOME/.cache/gerbang}:
#   kafka/lib (jars)  kafka/data  kafka/config/server.properties  kafka/cluster.id
#   redis/data  logs/  run/*.pid
# Ports: GERBANG_KAFKA_PORT (9092), GERBANG_KAFKA_CONTROLLER_PORT (9093),
#        GERBANG_REDIS_PORT (6379).
# Exit codes: 0 ok, 1 failure, 2 usage, 3 `status` found something not running.
# Facts and pitfalls: shared/reference/kafka-local.md.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly HOST=127.0.0.1
readonly GERBANG_HOME="${GERBANG_HOME:-$HOME/.cache/gerbang}"
readonly KAFKA_PORT="${GERBANG_KAFKA_PORT:-9092}"
readonly CONTROLLER_PORT="${GERBANG_KAFKA_CONTROLLER_PORT:-9093}"
readonly REDIS_PORT="${GERBANG_REDIS_PORT:-6379}"
# The largest record; the services' producers use the same variable (kafka_max_message_bytes).
readonly KAFKA_MAX_MESSAGE_BYTES="${GERBANG_KAFKA_MAX_MESSAGE_BYTES:-1048576}"

readonly RUN_DIR="$GERBANG_HOME/run"
readonly LOG_DIR="$GERBANG_HOME/logs"
readonly KAFKA_HOME="$GERBANG_HOME/kafka"
readonly KAFKA_LIB="$KAFKA_HOME/lib"
readonly KAFKA_DATA="$KAFKA_HOME/data"
readonly KAFKA_CONFIG="$KAFKA_HOME/config/server.properties"
readonly KAFKA_LOG="$LOG_DIR/kafka.log"
readonly KAFKA_READY_FILE="$RUN_DIR/kafka.ready" # pid of the broker once seen ready
readonly REDIS_DATA="$GERBANG_HOME/redis/data"
readonly REDIS_LOG="$LOG_DIR/redis.log"

readonly POM="$SCRIPT_DIR/pom.xml"
readonly LOG4J_CONFIG="$SCRIPT_DIR/log4j2.properties"

readonly KAFKA_READY_TIMEOUT=120 # seconds; a cold JVM on 2 busy cores needs slack
readonly REDIS_READY_TIMEOUT=30
readonly STOP_TIMEOUT=30 # Kafka flushes logs and snapshots in its shutdown hook
readonly LOCK_TIMEOUT=300

# ---------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------

say() { printf '%s\n' "$*"; }
err() { printf '%s\n' "$*" >&2; }
die() {
  err "$*"
  exit 1
}

# The Kafka version comes from the POM, so pom.xml stays the one place to change it;
# GERBANG_KAFKA_VERSION overrides it (e.g. the 3.9.x fallback in kafka-local.md).
kafka_version() {
  if [[ -n "${GERBANG_KAFKA_VERSION:-}" ]]; then
    printf '%s' "$GERBANG_KAFKA_VERSION"
    return
  fi
  local version
  version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n 1)"
  [[ -n "$version" ]] || die "kafka: cannot read <kafka.version> from $POM"
  printf '%s' "$version"
}

now() { printf '%s' "$EPOCHREALTIME"; }

# Seconds since START (an EPOCHREALTIME value), one decimal.
elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# True when something accepts TCP connections on 127.0.0.1:PORT.
port_accepts() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

# True when any process listens on PORT on any address (a listener on 0.0.0.0 blocks us too).
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
  else
    port_accepts "$port"
  fi
}

# "pid 123 (redis-server)" for the listener on PORT, when ss may tell us; else "a process".
describe_listener() {
  local port=$1 line pid name
  if command -v ss >/dev/null 2>&1; then
    line="$(ss -Hltnp "sport = :$port" 2>/dev/null | head -n 1)"
    if [[ "$line" =~ \(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
      name="${BASH_REMATCH[1]}"
      pid="${BASH_REMATCH[2]}"
      printf 'pid %s (%s)' "$pid" "$name"
      return
    fi
  fi
  printf 'a process'
}

# Refuses to start NAME when PORT is taken by a process we did not start.
require_free_port() {
  local name=$1 port=$2 env_var=$3 hint=${4:-}
  port_in_use "$port" || return 0
  err "$name: port $port is already in use by $(describe_listener "$port"), which infra.sh did not start (and will not stop)."
  err "$name: free the port${hint:+ ($hint)}, or use another one for every infra.sh command and the services, e.g. $env_var=$((port + 1000)) $0 up"
  exit 1
}

# Full command line of PID with NULs as spaces; empty for a dead process or a zombie.
cmdline_of() {
  local pid=$1
  [[ -r "/proc/$pid/cmdline" ]] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true
}

# True when PID is the NAME process that this script started for this GERBANG_HOME.
# Guards against a recycled pid: the pid file alone proves nothing.
is_our_process() {
  local name=$1 pid=$2 cmdline cwd
  cmdline="$(cmdline_of "$pid")"
  case "$name" in
    kafka)
      [[ "$cmdline" == *kafka.Kafka* && "$cmdline" == *"$KAFKA_CONFIG"* ]]
      ;;
    redis)
      # redis-server rewrites its process title ("redis-server 127.0.0.1:6379"), so the
      # --dir argument is gone from cmdline; its working directory is that --dir instead.
      [[ "$cmdline" == *redis-server* ]] || return 1
      cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null || true)"
      [[ -z "$cwd" || "$cwd" == "$REDIS_DATA" ]]
      ;;
    *) return 1 ;;
  esac
}

pid_file() { printf '%s/%s.pid' "$RUN_DIR" "$1"; }

# Prints the pid of our running NAME process and succeeds; removes a stale pid file and
# fails when there is none.
our_pid() {
  local name=$1 file pid
  file="$(pid_file "$name")"
  [[ -f "$file" ]] || return 1
  pid="$(<"$file")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_process "$name" "$pid"; then
    printf '%s' "$pid"
    return 0
  fi
  err "$name: removing stale pid file $file (pid ${pid:-?} is not our $name any more)"
  rm -f "$file"
  return 1
}

show_log_tail() {
  local file=$1 lines=${2:-30}
  [[ -s "$file" ]] || return 0
  err "---- last $lines lines of $file ----"
  tail -n "$lines" "$file" >&2
  err "----"
}

# Serialises up/down between concurrent callers (several test runs may call `up` at once).
# fd 9 must not leak into the servers we start, or they would hold the lock forever.
take_lock() {
  mkdir -p "$RUN_DIR"
  exec 9>>"$RUN_DIR/infra.lock"
  if ! flock -n 9; then
    say "infra: another infra.sh is running; waiting for it (up to ${LOCK_TIMEOUT}s) …"
    flock -w "$LOCK_TIMEOUT" 9 || die "infra: gave up waiting for $RUN_DIR/infra.lock"
  fi
}

# Waits (up to 5 s) until an exited PID is reaped. Our servers are orphans whose parent is
# init, and some inits (this VM's among them) reap only every second or so; until then
# `ps` would still list a <defunct> entry for the pid.
wait_reaped() {
  local pid=$1 waited=0 state
  while ((waited < 50)); do
    state="$(awk '/^State:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
    [[ "$state" == Z ]] || return 0
    sleep 0.1
    waited=$((waited + 1))
  done
}

# Sends SIGTERM to our NAME process only, waits, then SIGKILL to that same pid only.
stop_ours() {
  local name=$1 pid start waited=0
  if ! pid="$(our_pid "$name")"; then
    say "$name: not running"
    return 0
  fi
  say "$name: stopping pid $pid …"
  start="$(now)"
  kill -TERM "$pid" 2>/dev/null || true
  while is_our_process "$name" "$pid" && ((waited < STOP_TIMEOUT * 5)); do
    sleep 0.2
    waited=$((waited + 1))
  done
  if is_our_process "$name" "$pid"; then
    err "$name: pid $pid still alive after ${STOP_TIMEOUT}s; sending SIGKILL to pid $pid"
    kill -KILL "$pid" 2>/dev/null || true
    waited=0
    while is_our_process "$name" "$pid" && ((waited < 50)); do
      sleep 0.2
      waited=$((waited + 1))
    done
    is_our_process "$name" "$pid" && die "$name: pid $pid survived SIGKILL"
  fi
  wait_reaped "$pid"
  rm -f "$(pid_file "$name")"
  say "$name: stopped in $(elapsed_since "$start")s"
}

# ---------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------

ensure_redis_installed() {
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && return 0
  say "redis: redis-server not found; installing Debian's redis-server …"
  local sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 ||
      die "redis: not root and no sudo; install it yourself: apt-get install redis-server"
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq redis-server
  command -v redis-server >/dev/null 2>&1 || die "redis: apt-get did not install redis-server"
}

redis_ping() {
  [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]
}

# True while PID (a server this script just started) is alive: not gone, not a zombie.
# Deliberately not is_our_process: right after `setsid … &` the child may not have exec'd
# yet (its cmdline is still this script's) and redis chdirs to --dir only after exec, so a
# healthy start-up would look "not ours" and be abandoned running without a pid file.
still_running() {
  local state
  state="$(ps -o stat= -p "$1" 2>/dev/null || true)"
  [[ -n "$state" && "$state" != Z* ]]
}

# Waits until our redis (PID) answers PING; fails with the log when it dies or times out.
wait_redis_ready() {
  local pid=$1 deadline
  deadline=$((SECONDS + REDIS_READY_TIMEOUT))
  until redis_ping; do
    if ! still_running "$pid"; then
      rm -f "$(pid_file redis)"
      show_log_tail "$REDIS_LOG"
      die "redis: pid $pid exited during start-up; see $REDIS_LOG"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$REDIS_LOG"
      die "redis: no PONG on $HOST:$REDIS_PORT after ${REDIS_READY_TIMEOUT}s (pid $pid left running; '$0 redis-down' stops it); see $REDIS_LOG"
    fi
    sleep 0.1
  done
}

redis_up() {
  local pid start
  ensure_redis_installed
  if pid="$(our_pid redis)"; then
    wait_redis_ready "$pid"
    say "redis: already running (pid $pid, $HOST:$REDIS_PORT)"
    return 0
  fi
  # Debian's package may have started a system redis on 6379: not ours, never touched.
  require_free_port redis "$REDIS_PORT" GERBANG_REDIS_PORT \
    "for Debian's own redis: sudo systemctl disable --now redis-server"
  mkdir -p "$REDIS_DATA" "$LOG_DIR" "$RUN_DIR"
  say "redis: starting on $HOST:$REDIS_PORT …"
  start="$(now)"
  # setsid: own session, so neither a terminal hang-up nor a Ctrl-C in the caller's
  # process group reaches the server.
  setsid redis-server --bind "$HOST" --port "$REDIS_PORT" \
    --appendonly yes --appendfsync everysec --dir "$REDIS_DATA" --daemonize no \
    >>"$REDIS_LOG" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$(pid_file redis)"
  wait_redis_ready "$pid"
  say "redis: ready in $(elapsed_since "$start")s (pid $pid, $HOST:$REDIS_PORT)"
}

redis_down() { stop_ours redis; }

# ---------------------------------------------------------------------------------------
# Kafka
# ---------------------------------------------------------------------------------------

require_java() {
  command -v java >/dev/null 2>&1 ||
    die "kafka: 'java' not found; Kafka 4.x needs Java 17+: apt-get install openjdk-17-jre-headless"
  local major
  major="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\)\.\{0,1\}\([0-9]*\).*/\1 \2/p' | head -n 1)"
  # "1.8.0" means Java 8; "17.0.15" means 17.
  if [[ "$major" == 1\ * ]]; then major="${major#1 }"; else major="${major%% *}"; fi
  if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
    die "kafka: Java ${major:-?} found; Kafka 4.x needs Java 17+: apt-get install openjdk-17-jre-headless"
  fi
}

# Copies the broker's runtime classpath into kafka/lib once per Kafka version.
kafka_fetch() {
  local version marker tmp start count
  version="$(kafka_version)"
  marker="$KAFKA_LIB/.complete-kafka-$version"
  [[ -f "$marker" ]] && return 0
  command -v mvn >/dev/null 2>&1 ||
    die "kafka: 'mvn' not found; it fetches the Kafka jars from Maven Central: apt-get install maven"
  say "kafka: fetching Kafka $version jars from Maven Central into $KAFKA_LIB …"
  start="$(now)"
  mkdir -p "$KAFKA_HOME" "$LOG_DIR"
  tmp="$KAFKA_HOME/lib.partial"
  rm -rf "$tmp"
  if ! mvn -B -q -f "$POM" -Dkafka.version="$version" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$LOG_DIR/mvn-fetch.log" 2>&1; then
    show_log_tail "$LOG_DIR/mvn-fetch.log"
    die "kafka: Maven could not fetch the jars; see $LOG_DIR/mvn-fetch.log"
  fi
  # Swap in whole, so an interrupted fetch never leaves a half-filled classpath behind.
  rm -rf "$KAFKA_LIB"
  mv "$tmp" "$KAFKA_LIB"
  touch "$marker"
  count="$(find "$KAFKA_LIB" -maxdepth 1 -name '*.jar' | wc -l)"
  say "kafka: fetched $count jars in $(elapsed_since "$start")s"
}

# Written on every start from the current ports, so the file always matches the env.
write_kafka_config() {
  mkdir -p "$(dirname "$KAFKA_CONFIG")" "$KAFKA_DATA"
  cat >"$KAFKA_CONFIG" <<EOF
# Generated by deploy/local/infra.sh on every start; edit the script, not this file.
# Single-node KRaft: this process is broker and controller; loopback only.
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA

# One broker: replication factor 1 for every internal topic.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1

# The largest record batch the broker takes: the same number as the producers'
# max_request_size (GERBANG_KAFKA_MAX_MESSAGE_BYTES, default 1 MiB). Gerbang never produces a
# larger record: the webhook keeps a larger message aside (trimmed, on whatsapp.unrouted).
message.max.bytes=$KAFKA_MAX_MESSAGE_BYTES

# Topics are created explicitly, with their partition counts and cleanup policies.
auto.create.topics.enable=false
num.partitions=1
# Consumer groups join at once instead of waiting 3 s for more members (tests, dev).
group.initial.rebalance.delay.ms=0

# Sized for a 2-core machine.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4

# Local data only: keep three days, segments small enough to be deleted in time.
log.retention.hours=72
log.segment.bytes=67108864
log.retention.check.interval.ms=300000
EOF
}

# A random KRaft cluster id: 16 bytes, URL-safe base64 without padding, as
# `StorageTool random-uuid` makes it (saves a JVM start). Like Kafka's Uuid.randomUuid, a
# leading '-' is rejected because command-line parsers take it for an option.
new_cluster_id() {
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  printf '%s' "$id"
}

# Formats the data directory once; a formatted directory (meta.properties) is left alone.
kafka_format() {
  [[ -f "$KAFKA_DATA/meta.properties" ]] && return 0
  local cluster_id_file="$KAFKA_HOME/cluster.id" cluster_id start
  [[ -s "$cluster_id_file" ]] || new_cluster_id >"$cluster_id_file"
  cluster_id="$(<"$cluster_id_file")"
  say "kafka: formatting $KAFKA_DATA (cluster id $cluster_id) …"
  start="$(now)"
  # --standalone goes with controller.quorum.bootstrap.servers; -g makes a re-run a no-op.
  if ! java -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format --standalone -g \
    -t "$cluster_id" -c "$KAFKA_CONFIG" >>"$LOG_DIR/kafka-format.log" 2>&1; then
    show_log_tail "$LOG_DIR/kafka-format.log"
    die "kafka: formatting $KAFKA_DATA failed; see $LOG_DIR/kafka-format.log"
  fi
  say "kafka: formatted in $(elapsed_since "$start")s"
}

# True when the broker logged "Kafka Server started" after byte OFFSET of its log.
kafka_log_says_started() {
  local offset=$1 size
  [[ -f "$KAFKA_LOG" ]] || return 1
  size="$(stat -c %s "$KAFKA_LOG")"
  ((size >= offset)) || offset=0 # the log rolled over meanwhile
  # No `grep -q`: it exits at the first match and, under pipefail, tail's SIGPIPE would
  # turn that match into a failure once the log is larger than a pipe buffer.
  tail -c "+$((offset + 1))" "$KAFKA_LOG" | grep -F 'Kafka Server started' >/dev/null
}

# Waits until our broker (PID) logged its start after byte OFFSET and the port accepts.
wait_kafka_ready() {
  local pid=$1 offset=$2 deadline
  deadline=$((SECONDS + KAFKA_READY_TIMEOUT))
  until kafka_log_says_started "$offset" && port_accepts "$KAFKA_PORT"; do
    if ! still_running "$pid"; then
      rm -f "$(pid_file kafka)"
      show_log_tail "$KAFKA_LOG"
      show_log_tail "$LOG_DIR/kafka.out" 10
      die "kafka: pid $pid exited during start-up; see $KAFKA_LOG and $LOG_DIR/kafka.out"
    fi
    if ((SECONDS >= deadline)); then
      show_log_tail "$KAFKA_LOG"
      die "kafka: not ready after ${KAFKA_READY_TIMEOUT}s (pid $pid left running; '$0 kafka-down' stops it); see $KAFKA_LOG"
    fi
    sleep 0.2
  done
}

kafka_up() {
  local pid start offset
  if pid="$(our_pid kafka)"; then
    # Seen ready once: the port is enough now (its start line may have rolled out of the log).
    if [[ "$(cat "$KAFKA_READY_FILE" 2>/dev/null)" != "$pid" ]] || ! port_accepts "$KAFKA_PORT"; then
      # Where this broker's log began: an older run's "Kafka Server started" must not count.
      offset="$(cat "$RUN_DIR/kafka.log-offset" 2>/dev/null || printf 0)"
      wait_kafka_ready "$pid" "$offset"
      printf '%s\n' "$pid" >"$KAFKA_READY_FILE"
    fi
    say "kafka: already running (pid $pid, $HOST:$KAFKA_PORT)"
    return 0
  fi
  require_java
  require_free_port kafka "$KAFKA_PORT" GERBANG_KAFKA_PORT
  require_free_port kafka "$CONTROLLER_PORT" GERBANG_KAFKA_CONTROLLER_PORT
  kafka_fetch
  write_kafka_config
  kafka_format
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  offset="$(stat -c %s "$KAFKA_LOG" 2>/dev/null || printf 0)"
  printf '%s\n' "$offset" >"$RUN_DIR/kafka.log-offset"
  rm -f "$KAFKA_READY_FILE"
  say "kafka: starting Kafka $(kafka_version) on $HOST:$KAFKA_PORT (controller $HOST:$CONTROLLER_PORT) …"
  start="$(now)"
  # Explicit heap: the JVM would otherwise take a quarter of the RAM. The classpath is
  # quoted on purpose: the JVM expands "lib/*", not the shell.
  setsid java -Xms256m -Xmx1g -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONFIG" \
    >>"$LOG_DIR/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$(pid_file kafka)"
  wait_kafka_ready "$pid" "$offset"
  printf '%s\n' "$pid" >"$KAFKA_READY_FILE"
  say "kafka: ready in $(elapsed_since "$start")s (pid $pid, $HOST:$KAFKA_PORT)"
}

kafka_down() {
  stop_ours kafka
  rm -f "$KAFKA_READY_FILE"
}

# ---------------------------------------------------------------------------------------
# Status and wipe
# ---------------------------------------------------------------------------------------

# Prints one line for NAME; succeeds when our process runs and its port accepts.
status_line() {
  local name=$1 port=$2 detail=$3 pid
  if ! pid="$(our_pid "$name")"; then
    if port_in_use "$port"; then
      say "$name: not running (port $port is taken by $(describe_listener "$port"), not ours)"
    else
      say "$name: not running"
    fi
    return 1
  fi
  if port_accepts "$port"; then
    say "$name: running, pid $pid, $HOST:$port$detail"
    return 0
  fi
  say "$name: pid $pid alive but $HOST:$port not accepting yet (starting or stuck; see $LOG_DIR)"
  return 1
}

status() {
  local ok=0
  say "infra: state in $GERBANG_HOME"
  status_line kafka "$KAFKA_PORT" " (controller $HOST:$CONTROLLER_PORT), log $KAFKA_LOG" || ok=3
  status_line redis "$REDIS_PORT" ", data $REDIS_DATA, log $REDIS_LOG" || ok=3
  return "$ok"
}

wipe_data() {
  if our_pid kafka >/dev/null 2>&1 || our_pid redis >/dev/null 2>&1; then
    die "infra: refusing to wipe while our processes still run"
  fi
  say "infra: deleting data in $KAFKA_DATA, $REDIS_DATA (jars and logs are kept)"
  rm -rf "$KAFKA_DATA" "$KAFKA_HOME/cluster.id" "$REDIS_DATA"
}

usage() {
  cat <<EOF
Usage: $0 COMMAND

  up             redis-up, then kafka-up (no-op for what already runs)
  down [--wipe]  kafka-down and redis-down; --wipe also deletes their data
  status         what runs, pids, ports; exit 0 when both run, 3 otherwise
  kafka-up | kafka-down | redis-up | redis-down

State: \$GERBANG_HOME (now $GERBANG_HOME). Ports: GERBANG_KAFKA_PORT ($KAFKA_PORT),
GERBANG_KAFKA_CONTROLLER_PORT ($CONTROLLER_PORT), GERBANG_REDIS_PORT ($REDIS_PORT).
EOF
}

main() {
  local command=${1:-}
  [[ $# -gt 0 ]] && shift
  case "$command" in
    up)
      [[ $# -eq 0 ]] || { usage >&2; exit 2; }
      take_lock
      redis_up
      kafka_up
      ;;
    down)
      local wipe=false
      case "${1:-}" in
        "") ;;
        --wipe) wipe=true ;;
        *) usage >&2; exit 2 ;;
      esac
      take_lock
      kafka_down
      redis_down
      if [[ "$wipe" == true ]]; then wipe_data; fi
      ;;
    status) status ;;
    kafka-up) take_lock; kafka_up ;;
    kafka-down) take_lock; kafka_down ;;
    redis-up) take_lock; redis_up ;;
    redis-down) take_lock; redis_down ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
