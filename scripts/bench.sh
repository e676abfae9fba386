#!/usr/bin/env bash
# Measures what each lesson costs against its floor: a bare program making
# the system calls the lesson's work needs and no more (`floor`, in
# common/testing/src/bin/floor, says which), or a hello world. Lesson and
# floor run in pairs, one right after the other, the first of each pair in
# turn, so that load and caches weigh on both alike; each line gives the
# median of the pairs' ratios, the lowest and the highest, and whether the
# target is met; the ticket offices also against a floor that makes the
# calls their guarantees add (`floor sale --same-calls`), to show what of
# their cost is their own code. Then the system calls per child of lesson
# and floor (strace -f -c, where strace is installed), the walkthrough's
# time and, with --cold, a cold build's.
# Usage: scripts/bench.sh [--cold] [PAIRS]   (PAIRS default 9)
set -euo pipefail

cd "$(dirname "$0")/.."
pairs=9 cold=false
for arg in "$@"; do
    case $arg in
        --cold) cold=true ;;
        '' | *[!0-9]* | 0) echo "usage: scripts/bench.sh [--cold] [PAIRS]" >&2; exit 2 ;;
        *) pairs=$arg ;;
    esac
done

echo "building (release)..."
cargo build --release --workspace --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release

# Whether this build laid the children's code out together (see
# common/link-order/build.rs), and how many of the listed names it holds:
# they carry the hashes of a toolchain and of the dependencies' versions.
listed=common/link-order/symbols.txt
held=$(for toml in */Cargo.toml; do
    if grep -q link-order/build.rs "$toml"; then tr '\0' '\n' <"$bin/${toml%/Cargo.toml}"; fi
done | grep -Fxf "$listed" | sort -u | wc -l)
# shellcheck disable=SC2012 # the newest of cargo's hashed directories
newest=$(ls -td "$bin"/build/printer-v1-*/output 2>/dev/null | head -n 1)
if [ -n "$newest" ] && grep -q symbol-ordering-file "$newest"; then
    echo "link order: applied; $held of the $(wc -l <"$listed") functions and statics listed are in the lessons (scripts/link_order.sh lists them anew)"
else
    echo "link order: not applied (see common/link-order/build.rs); the lessons' code lies where the linker put it"
fi

# Everything made here goes when the bench ends. The lessons' scratch
# directories go into one of the bench's own: a lesson starting elsewhere
# on this machine sweeps the temporary directory of runs it takes for dead.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch/tmp
mkdir "$TMPDIR"

# us: the wall time of running "$@" once, in microseconds, from bash's own
# clock where it has one (bash 5), so that no `date` is timed with it.
now() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        t=${EPOCHREALTIME/[.,]/}
    else
        t=$(($(date +%s%N) / 1000))
    fi
}
timed() {
    local t start
    now
    start=$t
    if ! "$@" >/dev/null; then
        echo "bench.sh: failed: $*" >&2
        exit 1
    fi
    now
    us=$((t - start))
}

# median, lowest and highest of the numbers given, one a line in, one line out.
stats() {
    sort -n | awk '{ a[NR] = $1 } END {
        m = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        print m, a[1], a[NR]
    }'
}

printf '%-48s %10s %10s %7s %12s  %s\n' "lesson, at --speed max (its floor below it)" lesson floor ratio min-max target

# pair WHAT TARGET: times "${lesson[@]}" against "${floor[@]}" $pairs times.
pair() {
    local what=$1 target=$2 i l f ratios=() ls=() fs=()
    for ((i = 0; i < pairs; i++)); do
        if ((i % 2 == 0)); then
            timed "${lesson[@]}"; l=$us
            timed "${floor[@]}"; f=$us
        else
            timed "${floor[@]}"; f=$us
            timed "${lesson[@]}"; l=$us
        fi
        ls+=("$l") fs+=("$f")
        ratios+=("$(awk -v l="$l" -v f="$f" 'BEGIN { print l / f }')")
    done
    local r l_ms f_ms
    r=$(printf '%s\n' "${ratios[@]}" | stats)
    l_ms=$(printf '%s\n' "${ls[@]}" | stats | awk '{ print $1 / 1000 }')
    f_ms=$(printf '%s\n' "${fs[@]}" | stats | awk '{ print $1 / 1000 }')
    awk -v w="$what" -v r="$r" -v l="$l_ms" -v f="$f_ms" -v t="$target" -v floor="${floor[*]#"$bin"/}" 'BEGIN {
        split(r, x, " ")
        printf "%-48s %7.1f ms %7.1f ms %6.2fx %12s  <= %sx %s\n", w, l, f, x[1], sprintf("%.2f-%.2fx", x[2], x[3]), t,
            (x[1] <= t ? "met" : "MISSED")
        printf "  %s\n", floor
    }'
}

for n in 500 2000; do
    lesson=("$bin/printer-v1" --workers "$n" --speed max) floor=("$bin/floor" printer "$n")
    pair "printer-v1 --workers $n" 1.3
    lesson=("$bin/printer-v3" --workers "$n" --speed max) floor=("$bin/floor" printer --lock "$n")
    pair "printer-v3 --workers $n" 1.3
done
lesson=("$bin/zombie" --flood 1000 --speed max --cpu-ms 0) floor=("$bin/floor" flood 1000)
pair "zombie --flood 1000 --cpu-ms 0" 1.5

# The ticket office replaces ticket.json by rename for every ticket sold:
# timed on a RAM filesystem, which shows the lesson's own cost, and on the
# disk under the temporary directory, where the rename costs more.
offices=() places=()
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    offices+=("$(mktemp -d /dev/shm/bench.XXXXXX)") places+=(/dev/shm)
    trap 'rm -rf "$scratch" "${offices[0]}"' EXIT
fi
mkdir "$scratch/office"
offices+=("$scratch/office") places+=("${scratch%/*}")
# sale NAME [FLAGS...]: the lesson NAME selling 500 tickets to 1000 buyers
# in $dir, its floor `floor sale FLAGS` there.
sale() {
    local name=$1
    shift
    lesson=("$bin/$name" --file "$dir/ticket.json" --buyers 1000 --tickets 500 --speed max)
    floor=("$bin/floor" sale "$@" "$dir" 1000 500)
}
for i in "${!offices[@]}"; do
    dir=${offices[i]}
    where="$(df -T "$dir" | awk 'NR == 2 { print $2 }') ${places[i]}"
    sale ticket-locked
    pair "ticket-locked --buyers 1000, $where" 1.15
    sale ticket-unsafe --no-lock
    pair "ticket-unsafe --buyers 1000, $where" 1.15
    # The same sales against a floor that also makes the calls the lessons'
    # guarantees add (the file checks, owner, mode and attributes, the lock
    # of the new file, the stop signals held, the child's name and its
    # parent's death signal, the SIGCHLD check before each fork): what is
    # left is the lessons' own code.
    sale ticket-locked --same-calls
    pair "  ticket-locked, against its calls" 1.15
    sale ticket-unsafe --no-lock --same-calls
    pair "  ticket-unsafe, against its calls" 1.15
done

lesson=("$bin/printer-v1" --workers 1 --speed max) floor=("$bin/hello")
pair "printer-v1 --workers 1" 2
lesson=("$bin/zombie" --flood 1 --speed max --cpu-ms 0) floor=("$bin/hello")
pair "zombie --flood 1 --cpu-ms 0" 5
echo "(each: median of $pairs pairs, lesson and floor in turn, $(nproc) cores; the sales: 500 tickets)"

# System calls per child: every call of the run, in every process, over
# the number of children (strace -f -c).
echo
printf '%-48s %10s %10s %7s  %s\n' "system calls per child (strace -f -c)" lesson floor ratio target
calls() {
    local what=$1 n=$2 l f
    strace -f -c -o "$scratch/calls" "${lesson[@]}" >/dev/null
    l=$(awk '$NF == "total" { print $4 }' "$scratch/calls")
    strace -f -c -o "$scratch/calls" "${floor[@]}" >/dev/null
    f=$(awk '$NF == "total" { print $4 }' "$scratch/calls")
    awk -v w="$what" -v l="$l" -v f="$f" -v n="$n" 'BEGIN {
        printf "%-48s %10.1f %10.1f %6.2fx  <= 2x %s\n", w, l / n, f / n, l / f, (l <= 2 * f ? "met" : "MISSED")
    }'
}
if command -v strace >/dev/null && strace -f -c -o /dev/null true 2>/dev/null; then
    lesson=("$bin/printer-v1" --workers 500 --speed max) floor=("$bin/floor" printer 500)
    calls "printer-v1 --workers 500" 500
    lesson=("$bin/printer-v3" --workers 500 --speed max) floor=("$bin/floor" printer --lock 500)
    calls "printer-v3 --workers 500" 500
    lesson=("$bin/zombie" --flood 1000 --speed max --cpu-ms 0) floor=("$bin/floor" flood 1000)
    calls "zombie --flood 1000 --cpu-ms 0" 1000
    dir=${offices[0]}
    sale ticket-locked
    calls "ticket-locked --buyers 1000" 1000
    sale ticket-unsafe --no-lock
    calls "ticket-unsafe --buyers 1000" 1000
    sale ticket-unsafe --no-lock --same-calls
    calls "  against its floor with the same calls" 1000
else
    echo "not measured: strace is not installed (or may not trace here)"
fi

# The walkthrough once built, and with --cold a cold build of the
# workspace (the dependencies already downloaded, nothing compiled).
# Once untimed first: each `cargo run -p LESSON` may build its own set of
# the workspace's features, which `cargo build --workspace` does not.
echo
if ! scripts/run_all.sh --fast >/dev/null 2>&1; then
    echo "bench.sh: failed: scripts/run_all.sh --fast" >&2
    exit 1
fi
now
start=$t
scripts/run_all.sh --fast >/dev/null 2>&1
now
walk=$(((t - start) / 1000))
printf '%-48s %7.1f s   (target < 10 s: %s)\n' "scripts/run_all.sh --fast, once built" \
    "$(awk -v ms="$walk" 'BEGIN { print ms / 1000 }')" "$([ "$walk" -lt 10000 ] && echo met || echo MISSED)"
if $cold; then
    now
    start=$t
    CARGO_TARGET_DIR=$scratch/cold cargo build --workspace --quiet
    now
    build=$(((t - start) / 1000))
    printf '%-48s %7.1f s   (target < 25 s: %s)\n' "cold cargo build --workspace" \
        "$(awk -v ms="$build" 'BEGIN { print ms / 1000 }')" "$([ "$build" -lt 25000 ] && echo met || echo MISSED)"
fi
