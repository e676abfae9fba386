#!/usr/bin/env bash
# Measures what the lessons cost against the floor under them, timed in the
# same run: a bare fork + _exit + waitpid of as many children, and for the
# ticket office the same system calls as a locked sale, in the same directory.
# Usage: scripts/bench.sh [RUNS]   (each figure is the median of RUNS runs, default 7)
set -euo pipefail

cd "$(dirname "$0")/.."
runs=${1:-7}
case $runs in '' | *[!0-9]* | 0) echo "usage: scripts/bench.sh [RUNS]" >&2; exit 2 ;; esac

echo "building (release)..."
cargo build --release --workspace --quiet
bin=target/release

# Median wall time, in milliseconds, of running "$@" $runs times.
median_ms() {
    local times=() start end
    for _ in $(seq "$runs"); do
        start=$(date +%s%N)
        "$@" >/dev/null
        end=$(date +%s%N)
        times+=($(((end - start) / 1000)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.1f", a[int((NR + 1) / 2)] / 1000 }'
}

# Prints one line: what, total, per unit, ratio to the floor, and the target.
report() {
    local what=$1 units=$2 ms=$3 floor_ms=$4 target=$5
    awk -v w="$what" -v n="$units" -v ms="$ms" -v f="$floor_ms" -v t="$target" 'BEGIN {
        ratio = ms / f
        printf "%-62s %8.1f ms  %7.3f ms each  %5.2fx the floor  (target <= %sx: %s)\n",
            w, ms, ms / n, ratio, t, (ratio <= t ? "met" : "MISSED")
    }'
}

# floor N MS: prints the floor measured for N children.
floor() {
    printf '%-62s %8.1f ms  %7.3f ms each\n' "floor: fork + _exit + waitpid x $1" "$2" \
        "$(awk -v a="$2" -v n="$1" 'BEGIN { printf "%.3f", a / n }')"
}

n=500
floor500=$(median_ms "$bin/fork-floor" "$n")
floor "$n" "$floor500"
report "printer-v3 --workers $n --speed max" "$n" \
    "$(median_ms "$bin/printer-v3" --workers "$n" --speed max)" "$floor500" 3

n=1000
floor1000=$(median_ms "$bin/fork-floor" "$n")
floor "$n" "$floor1000"
report "zombie --flood $n --speed max --cpu-ms 0" "$n" \
    "$(median_ms "$bin/zombie" --flood "$n" --speed max --cpu-ms 0)" "$floor1000" 3

# The ticket office replaces ticket.json by rename for every ticket sold.
# What that costs depends on the filesystem (on ext4 mounted with online
# discard it dominates), so the sale is timed on a RAM filesystem, which
# shows the lesson's own cost, and in the temporary directory, on disk.
sale() {
    local dir=$1 where=$2 floor_sale
    # Its own floor: the same calls (fork, open, flock, read, write, rename,
    # wait) in a bare program, timed in the same directory and the same run.
    floor_sale=$(median_ms "$bin/sale-floor" "$dir" "$n" 500)
    printf '%-62s %8.1f ms  %7.3f ms each\n' "floor: a bare locked sale x $n ($where)" "$floor_sale" \
        "$(awk -v a="$floor_sale" -v n="$n" 'BEGIN { printf "%.3f", a / n }')"
    report "ticket-locked --buyers $n --tickets 500 ($where)" "$n" \
        "$(median_ms "$bin/ticket-locked" --file "$dir/ticket.json" --buyers "$n" --tickets 500 --speed max)" \
        "$floor_sale" 3
    rm -f "$dir"/ticket.json.lock
    local reckoning
    reckoning=$("$bin/ticket-locked" --file "$dir/ticket.json" --buyers "$n" --tickets 500 --speed max | tail -n 1)
    echo "  its last run: ${reckoning#Reckoning: }"
}
offices=()
trap 'rm -rf "${offices[@]}"' EXIT
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    offices+=("$(mktemp -d /dev/shm/bench.XXXXXX)")
    sale "${offices[-1]}" "in RAM, /dev/shm"
fi
offices+=("$(mktemp -d)")
sale "${offices[-1]}" "on disk, $(df -T "${offices[-1]}" | awk 'NR == 2 { print $2 }') ${offices[-1]%/*}"

# The walkthrough once built, and a cold build of the workspace (the
# dependencies already downloaded, nothing compiled).
cargo build --workspace --quiet
start=$(date +%s%N)
scripts/run_all.sh --fast >/dev/null 2>&1
walk=$((($(date +%s%N) - start) / 1000000))
printf '%-62s %8.1f s   (target < 10 s: %s)\n' "scripts/run_all.sh --fast, once built" "$(awk -v ms="$walk" 'BEGIN { print ms / 1000 }')" \
    "$([ "$walk" -lt 10000 ] && echo met || echo MISSED)"
cold=$(mktemp -d)
offices+=("$cold")
start=$(date +%s%N)
CARGO_TARGET_DIR=$cold cargo build --workspace --quiet
build=$((($(date +%s%N) - start) / 1000000))
printf '%-62s %8.1f s   (target < 25 s: %s)\n' "cold cargo build --workspace" "$(awk -v ms="$build" 'BEGIN { print ms / 1000 }')" \
    "$([ "$build" -lt 25000 ] && echo met || echo MISSED)"

echo "(medians of $runs runs each, $(nproc) cores)"
