#!/usr/bin/env bash
# Measures what the lessons cost against the floor under them: a bare
# fork + _exit + waitpid of the same number of children, timed in the same run.
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
        printf "%-44s %8.1f ms  %7.3f ms each  %5.2fx the floor  (target <= %sx: %s)\n",
            w, ms, ms / n, ratio, t, (ratio <= t ? "met" : "MISSED")
    }'
}

n=500
floor=$(median_ms "$bin/fork-floor" "$n")
printf '%-44s %8.1f ms  %7.3f ms each\n' "floor: fork + _exit + waitpid x $n" "$floor" "$(awk -v a="$floor" -v n="$n" 'BEGIN { printf "%.3f", a / n }')"
v3=$(median_ms "$bin/printer-v3" --workers "$n" --speed max)
report "printer-v3 --workers $n --speed max" "$n" "$v3" "$floor" 3
echo "(median of $runs runs each, $(nproc) cores)"
