#!/usr/bin/env bash
# Throughput and memory benchmark of vpcflow on large synthetic captures,
# next to `cat` (the I/O floor), a walk over the record headers (the reading
# floor) and, when installed, nfpcapd and softflowd.
#
# Not part of CI: it needs a few GB of disk and minutes of CPU. See
# bench/README.md for what it measures and how to read the table.
#
#   bench/run.sh                 # everything, best of 3
#   RUNS=1 bench/run.sh          # quicker, noisier
#   bench/run.sh --generate-only # just build and cache the captures
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
    cat <<'EOF'
Environment (defaults in brackets):
  BENCH_DIR        captures, outputs, results [/tmp/vpcflow-bench]
  RUNS             runs per measurement, the fastest is kept [3]
  INTERVAL         vpcflow --interval, 60 or 600 [600]
  CORE             CPU the single-core runs are pinned to [0]
  SEED             capture seed [1]
  FLOWS PACKETS BYTES DURATION
                   main capture: unidirectional flows [900000], packets
                   [6500000], file bytes [1500000000], seconds [2400]
  OPEN_FLOWS OPEN_PACKETS OPEN_BYTES OPEN_DURATION
                   capture with every flow open at once (one 600 s window)
                   [1000000] [5000000] [700000000] [300]
  VPCFLOW          vpcflow binary [target/release/vpcflow]
  SKIP_OTHERS=1    skip nfpcapd and softflowd
  SOFTFLOWD_TIMEOUT  seconds before a softflowd run is given up [900]
  BENCH_IN_CI=1    run even when CI=true
Options:
  --generate-only  build, generate and cache the captures, time `cat`, stop
  -h, --help       this text
EOF
}

GENERATE_ONLY=0
for arg in "$@"; do
    case $arg in
        -h | --help) usage; exit 0 ;;
        --generate-only) GENERATE_ONLY=1 ;;
        *) echo "bench/run.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

if [[ ${CI:-} == true || -n ${GITHUB_ACTIONS:-} ]] && [[ ${BENCH_IN_CI:-0} != 1 ]]; then
    echo "bench/run.sh: skipped in CI (set BENCH_IN_CI=1 to run it anyway)"
    exit 0
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/tmp/vpcflow-bench}
RUNS=${RUNS:-3}
INTERVAL=${INTERVAL:-600}
CORE=${CORE:-0}
SEED=${SEED:-1}
FLOWS=${FLOWS:-900000}
PACKETS=${PACKETS:-6500000}
BYTES=${BYTES:-1500000000}
DURATION=${DURATION:-2400}
OPEN_FLOWS=${OPEN_FLOWS:-1000000}
OPEN_PACKETS=${OPEN_PACKETS:-5000000}
OPEN_BYTES=${OPEN_BYTES:-700000000}
OPEN_DURATION=${OPEN_DURATION:-300}
SKIP_OTHERS=${SKIP_OTHERS:-0}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PCAPGEN=$TARGET_DIR/release/pcapgen
VPCFLOW_GIVEN=${VPCFLOW:+1}
VPCFLOW=${VPCFLOW:-$TARGET_DIR/release/vpcflow}
# 2025-12-31T23:50:00Z, a multiple of 600 s: the open-at-once capture fits
# one 10-minute window; the main one (40 min) crosses midnight.
START=1767225000

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, not '$RUNS'"
[[ $INTERVAL == 60 || $INTERVAL == 600 ]] || die "INTERVAL must be 60 or 600, not '$INTERVAL'"
for v in FLOWS PACKETS BYTES DURATION OPEN_FLOWS OPEN_PACKETS OPEN_BYTES OPEN_DURATION SEED CORE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer, not '${!v}'"
done
(( OPEN_DURATION <= 600 )) || die "OPEN_DURATION must be at most 600 s (one window)"
mkdir -p "$BENCH_DIR"

# --- tools -------------------------------------------------------------------

if [[ ! -x /usr/bin/time ]]; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing GNU time (package 'time')"
        apt-get install -y -qq time >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq time >/dev/null 2>&1; } ||
            die "could not install the 'time' package"
    else
        die "GNU time (/usr/bin/time) is missing: install the 'time' package"
    fi
fi
PIN=()
if command -v taskset >/dev/null; then
    PIN=(taskset -c "$CORE")
else
    log "taskset not found (util-linux): single-core runs will not be pinned"
fi

# --- build ---------------------------------------------------------------------

VPCFLOW_OK=1
VPCFLOW_NOTE=""
log "building release binaries (cargo build --release -p vpcflow -p pcapgen)"
if ! (cd "$ROOT" && cargo build --release -p vpcflow -p pcapgen); then
    (cd "$ROOT" && cargo build --release -p pcapgen) || die "pcapgen does not build"
    if [[ -z $VPCFLOW_GIVEN ]]; then
        VPCFLOW_OK=0
        VPCFLOW_NOTE="vpcflow did not build"
        log "vpcflow does not build: the vpcflow rows are skipped"
    else
        log "vpcflow does not build: using VPCFLOW=$VPCFLOW"
    fi
fi
[[ -x $PCAPGEN ]] || die "no pcapgen binary at $PCAPGEN"
(cd "$ROOT" && cargo build --release -p pcapgen --example pcap_walk) || die "pcap_walk does not build"
WALK=$TARGET_DIR/release/examples/pcap_walk
if (( VPCFLOW_OK )); then
    if [[ ! -x $VPCFLOW ]]; then
        VPCFLOW_OK=0
        VPCFLOW_NOTE="no vpcflow binary at $VPCFLOW"
    elif [[ $("$VPCFLOW" convert --help 2>&1 || true) != *--out* ]]; then
        VPCFLOW_OK=0
        VPCFLOW_NOTE="vpcflow has no working 'convert' subcommand yet"
    fi
    (( VPCFLOW_OK )) || log "$VPCFLOW_NOTE: the vpcflow rows are skipped"
fi

# --- captures (generated once, cached by parameters and generator source) -------

GEN_HASH=$(cd "$ROOT/crates/pcapgen" && find Cargo.toml src -type f \( -name '*.rs' -o -name Cargo.toml \) |
    LC_ALL=C sort | xargs cat | sha256sum | cut -c1-10)

# gen_capture NAME FLOWS PACKETS BYTES DURATION [EXTRA_FLAG]: prints the path.
gen_capture() {
    local name=$1 flows=$2 packets=$3 bytes=$4 duration=$5 extra=${6:-}
    local tag=${extra//-/}
    local file="$BENCH_DIR/$name-f$flows-p$packets-b$bytes-d$duration-s$SEED${tag:+-$tag}-$GEN_HASH.pcap"
    if [[ -s $file && -s $file.stats.json ]]; then
        log "cached: $file"
    else
        local avail need
        avail=$(df --output=avail -B1 "$BENCH_DIR" | tail -n1)
        need=$(( bytes + bytes / 10 + 500000000 ))
        (( avail > need )) || die "not enough space in $BENCH_DIR: $avail bytes free, $need needed for $name"
        # Older captures of the same name (other parameters or generator) go.
        rm -f "$BENCH_DIR/$name"-*.pcap "$BENCH_DIR/$name"-*.pcap.stats.json
        log "generating $name capture: $flows flows, $packets packets, $bytes bytes, $duration s"
        "$PCAPGEN" --out "$file.tmp" --flows "$flows" --packets "$packets" --bytes "$bytes" \
            --start "$START" --duration "$duration" --seed "$SEED" \
            --stats "$file.stats.json" ${extra:+"$extra"} >&2
        mv "$file.tmp" "$file"
    fi
    printf '%s\n' "$file"
}

# stat_of FILE.stats.json KEY: a number from the generator's statistics.
stat_of() {
    sed -n "s/^ *\"$2\": \([0-9]*\),\{0,1\}\$/\1/p" "$1" | head -n1
}

MAIN=$(gen_capture main "$FLOWS" "$PACKETS" "$BYTES" "$DURATION")
OPEN=$(gen_capture open "$OPEN_FLOWS" "$OPEN_PACKETS" "$OPEN_BYTES" "$OPEN_DURATION" --open-at-once)

MAIN_SIZE=$(stat -c %s "$MAIN")
MAIN_PACKETS=$(stat_of "$MAIN.stats.json" frames)
MAIN_FLOWS=$(stat_of "$MAIN.stats.json" flows)
OPEN_SIZE=$(stat -c %s "$OPEN")
OPEN_PACKETS_N=$(stat_of "$OPEN.stats.json" frames)
OPEN_FLOWS_N=$(stat_of "$OPEN.stats.json" flows)
[[ -n $MAIN_PACKETS && -n $OPEN_PACKETS_N ]] || die "could not read the capture statistics"

# --- measuring ---------------------------------------------------------------------

ROWS=()    # "tool|wall|user|sys|rss_kb|packets|bytes|records"
NOTES=()

warm() { cat "$1" >/dev/null; }

# measure PRE_HOOK STDOUT -- COMMAND...: runs COMMAND $RUNS times under GNU
# time (PRE_HOOK before each run, stdout to STDOUT) and sets BEST_WALL,
# BEST_USER, BEST_SYS, BEST_RSS from the fastest run. Returns 1 on failure.
measure() {
    local pre=$1 out=$2
    shift 3
    local r t0 t1 wall elapsed user sys rss
    BEST_WALL="" BEST_USER="" BEST_SYS="" BEST_RSS=""
    for (( r = 1; r <= RUNS; r++ )); do
        "$pre"
        t0=$EPOCHREALTIME
        if ! /usr/bin/time -f '%e %U %S %M' -o "$BENCH_DIR/time.out" "$@" >"$out" 2>"$BENCH_DIR/stderr.out"; then
            log "failed: $* (run $r):"
            tail -n 5 "$BENCH_DIR/stderr.out" | sed 's/^/    /' >&2
            return 1
        fi
        t1=$EPOCHREALTIME
        read -r elapsed user sys rss < <(tail -n 1 "$BENCH_DIR/time.out")
        # GNU time's %e has 10 ms resolution; the shell clock has 1 us.
        wall=$(awk -v a="$t0" -v b="$t1" -v e="$elapsed" 'BEGIN { w = b - a; if (w <= 0) w = e; printf "%.3f", w }')
        log "  run $r: wall ${wall}s user ${user}s sys ${sys}s rss $(( rss / 1024 )) MB"
        if [[ -z $BEST_WALL ]] || awk -v a="$wall" -v b="$BEST_WALL" 'BEGIN { exit !(a < b) }'; then
            BEST_WALL=$wall BEST_USER=$user BEST_SYS=$sys BEST_RSS=$rss
        fi
    done
}

# row TOOL PACKETS BYTES RECORDS: appends the last measurement to the table.
row() { ROWS+=("$1|$BEST_WALL|$BEST_USER|$BEST_SYS|$BEST_RSS|$2|$3|$4"); }

nothing() { :; }
E2E_DIR=$BENCH_DIR/out-vpcflow
NF_DIR=$BENCH_DIR/out-nfpcapd
clean_e2e() { rm -rf "$E2E_DIR"; mkdir -p "$E2E_DIR"; }
clean_nf() { rm -rf "$NF_DIR"; mkdir -p "$NF_DIR"; }

# vpcflow_records CAPTURE: output records (lines that are not the header).
vpcflow_records() {
    local n
    if n=$("$VPCFLOW" convert "$1" --out - --interval "$INTERVAL" 2>/dev/null | { grep -cvE '^(version |$)' || true; }); then
        printf '%s\n' "$n"
    fi
}

log "warming the page cache"
warm "$MAIN"
warm "$OPEN"

log "cat (the cost of reading the capture)"
measure nothing /dev/null -- cat "$MAIN"
row "cat" "$MAIN_PACKETS" "$MAIN_SIZE" ""

log "pcap_walk: reading the record headers and nothing else (the floor), pinned to CPU $CORE"
measure nothing /dev/null -- "${PIN[@]}" "$WALK" "$MAIN"
row "record header walk (1 core, floor)" "$MAIN_PACKETS" "$MAIN_SIZE" ""

if (( GENERATE_ONLY )); then
    VPCFLOW_OK=0
    SKIP_OTHERS=1
    NOTES+=("--generate-only: only \`cat\` was measured")
fi

if (( VPCFLOW_OK )); then
    log "counting vpcflow's records (untimed run)"
    RECORDS=$(vpcflow_records "$MAIN")
    OPEN_RECORDS=$(vpcflow_records "$OPEN")

    log "vpcflow accounting: --out - > /dev/null, pinned to CPU $CORE"
    warm "$MAIN"
    if measure nothing /dev/null -- "${PIN[@]}" "$VPCFLOW" convert "$MAIN" --out - --interval "$INTERVAL"; then
        row "vpcflow --out - (1 core)" "$MAIN_PACKETS" "$MAIN_SIZE" "$RECORDS"
        summary=$(grep -v '^[[:space:]]*$' "$BENCH_DIR/stderr.out" | tail -n 6 | tr -s ' \n' ' ' || true)
        [[ -n $summary ]] && NOTES+=("vpcflow's own summary (accounting run): $summary")
    fi

    log "vpcflow end to end: gzip files into a directory, all CPUs"
    warm "$MAIN"
    if measure clean_e2e /dev/null -- "$VPCFLOW" convert "$MAIN" --out "$E2E_DIR" --interval "$INTERVAL"; then
        row "vpcflow --out DIR (gzip, $(nproc) cores)" "$MAIN_PACKETS" "$MAIN_SIZE" "$RECORDS"
        NOTES+=("vpcflow --out DIR wrote $(find "$E2E_DIR" -type f | wc -l) files, $(du -sb "$E2E_DIR" | cut -f1) bytes")
    fi

    log "vpcflow with $OPEN_FLOWS_N flows open at once (peak memory)"
    warm "$OPEN"
    if measure nothing /dev/null -- "${PIN[@]}" "$VPCFLOW" convert "$OPEN" --out - --interval "$INTERVAL"; then
        row "vpcflow --out -, $OPEN_FLOWS_N flows open at once" "$OPEN_PACKETS_N" "$OPEN_SIZE" "$OPEN_RECORDS"
    fi
elif (( ! GENERATE_ONLY )); then
    NOTES+=("vpcflow rows skipped: $VPCFLOW_NOTE")
fi

if (( ! SKIP_OTHERS )); then
    if command -v nfpcapd >/dev/null; then
        log "nfpcapd -r FILE -w DIR"
        warm "$MAIN"
        if measure clean_nf /dev/null -- timeout 1800 nfpcapd -r "$MAIN" -w "$NF_DIR"; then
            nf_records=""
            if command -v nfdump >/dev/null; then
                nf_records=$(nfdump -R "$NF_DIR" -I 2>/dev/null | awk '/^Flows:/ { print $2; exit }' || true)
            fi
            row "nfpcapd ($(nfpcapd -V 2>&1 | grep -o '[0-9][0-9.]*' | head -n1))" "$MAIN_PACKETS" "$MAIN_SIZE" "$nf_records"
            NOTES+=("nfpcapd records are nfcapd flows (split at its 5-minute file rotation and 300/60 s active/inactive timeouts), not VPC records")
        fi
    else
        NOTES+=("nfpcapd not installed (Debian package nfdump): row skipped")
    fi

    if command -v softflowd >/dev/null; then
        log "softflowd -r FILE -n 127.0.0.1:9995 (nobody listens there)"
        warm "$MAIN"
        # -d: foreground; -6 -v 9: IPv6 too; -m: room for every flow (default
        # 8192). softflowd 1.1.0 sometimes never exits at the end of the file
        # when given -c/-p paths of its own, so it keeps its defaults
        # (/var/run/softflowd.*) and runs under a timeout.
        sf_cmd=(timeout "${SOFTFLOWD_TIMEOUT:-900}" softflowd -r "$MAIN" -n 127.0.0.1:9995 -d -6 -v 9 -m 4000000)
        if measure nothing "$BENCH_DIR/softflowd.out" -- "${sf_cmd[@]}"; then
            sf_records=$(cat "$BENCH_DIR/softflowd.out" "$BENCH_DIR/stderr.out" |
                sed -n 's/.*Flows exported: .*(\([0-9]*\) records).*/\1/p' | head -n1 || true)
            row "softflowd ($(softflowd -h 2>&1 | grep -o 'version [0-9][0-9.]*[0-9]' | cut -d' ' -f2))" "$MAIN_PACKETS" "$MAIN_SIZE" "$sf_records"
            NOTES+=("softflowd records are NetFlow v9 flows sent to a closed UDP port")
        fi
    else
        NOTES+=("softflowd not installed (Debian package softflowd): row skipped")
    fi
fi

# --- report ------------------------------------------------------------------------

report() {
    local cpu
    cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
    echo "## vpcflow benchmark — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "- machine: ${cpu:-unknown CPU}, $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r)"
    echo "- vpcflow: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (modified)'), interval $INTERVAL s, best of $RUNS"
    echo "- capture: $(basename "$MAIN"): $MAIN_SIZE bytes, $MAIN_PACKETS packets, $MAIN_FLOWS unidirectional flows, $DURATION s"
    echo "- open-at-once capture: $(basename "$OPEN"): $OPEN_SIZE bytes, $OPEN_PACKETS_N packets, $OPEN_FLOWS_N flows, $OPEN_DURATION s"
    echo
    echo "| tool | wall s | user s | sys s | peak RSS MB | packets/s | MB/s | records/s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    local r
    for r in "${ROWS[@]}"; do
        IFS='|' read -r tool wall user sys rss packets bytes records <<<"$r"
        awk -v tool="$tool" -v wall="$wall" -v user="$user" -v sys="$sys" -v rss="$rss" \
            -v packets="$packets" -v bytes="$bytes" -v records="$records" 'BEGIN {
            w = (wall > 0) ? wall : 0.001
            rec = (records == "") ? "–" : sprintf("%.0f", records / w)
            printf "| %s | %.3f | %.2f | %.2f | %.0f | %.0f | %.0f | %s |\n",
                tool, wall, user, sys, rss / 1024, packets / w, bytes / 1e6 / w, rec
        }'
    done
    if (( ${#NOTES[@]} )); then
        echo
        local n
        for n in "${NOTES[@]}"; do echo "- $n"; done
    fi
}

REPORT=$(report)
printf '%s\n' "$REPORT"
printf '%s\n\n' "$REPORT" >>"$BENCH_DIR/results.md"
log "table appended to $BENCH_DIR/results.md"
