#!/usr/bin/env bash
# Writes common/link-order/symbols.txt: the functions each lesson's children
# run, then those its parent runs from its first fork on, then those of its
# start, as valgrind's callgrind saw them in a short release run of each
# lesson. A lesson's release build lays these out first, in this order (see
# common/link-order/build.rs), so that a forked child faults in a few pages
# of code instead of most of them. Run it again after a toolchain or
# dependency update: the names carry their hashes, and scripts/bench.sh
# shows how many of them the binaries still hold.
# Needs valgrind and nm (binutils). Usage: scripts/link_order.sh
set -euo pipefail

cd "$(dirname "$0")/.."
for tool in valgrind nm pgrep; do
    command -v "$tool" >/dev/null || { echo "link_order.sh: needs $tool" >&2; exit 1; }
done
symbols=common/link-order/symbols.txt

echo "building (release)..."
cargo build --release --workspace --quiet
bin=${CARGO_TARGET_DIR:-$PWD/target}/release

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export TMPDIR=$scratch/tmp
mkdir "$TMPDIR" "$scratch/cg"
# Others may pass through to the profiles' directories (below), not list.
chmod 711 "$scratch" "$scratch/cg"

profiled=()
# profile NAME ARGS...: one run under callgrind, a profile dumped at every
# fork, so that what a child runs is apart from what it inherited.
profile() {
    local name=$1 out=$scratch/cg/$1
    shift
    # Writable by all, as /tmp is: the zombie's flood parent, run by root,
    # becomes a user of its own, and it and its children must still write
    # their profiles here (else the flood's code is never listed).
    mkdir -m 1777 "$out"
    profiled+=("$name")
    echo "profiling $name $*"
    valgrind --tool=callgrind --demangle=no --dump-after=fork \
        --callgrind-out-file="$out/cg.%p" "$bin/$name" "$@" >/dev/null 2>"$out/valgrind.log" &
    echo $! >"$out/main.pid"
    # The zombie's process limit is not valgrind's to keep: that part fails
    # under it, and what ran before is profiled all the same.
    wait $! || true
    # A process the lesson left to its adopter (the orphan) may still be
    # writing its profile.
    while pgrep -f -- "--callgrind-out-file=$out/" >/dev/null; do sleep 0.1; done
}
profile zombie --flood 3 --speed max --cpu-ms 0 --seed 1
profile orphan --speed max --seed 1
for name in printer-v1 printer-v2 printer-v3; do
    profile "$name" --workers 3 --speed max --seed 1 --trace "$scratch/$name.trace"
done
for name in ticket-unsafe ticket-locked; do
    profile "$name" --buyers 3 --tickets 2 --speed max --seed 1 --file "$scratch/$name.json"
done

# The names a part of a profile defines (a recursive call's carries 'N),
# sorted: callgrind writes them in an order that moves with the addresses.
names() { sed -n -E "s/^c?fn=\([0-9]+\) ([^']*).*/\1/p" "$@" | LC_ALL=C sort -u; }
for part in children loop start; do : >"$scratch/$part"; done
for name in "${profiled[@]}"; do
    out=$scratch/cg/$name main=$(cat "$scratch/cg/$name/main.pid")
    # By pid, then by part, the last part (no number) last: the same runs
    # give the same list.
    (cd "$out" && printf '%s\n' cg.*) |
        awk -F. '{ print $2, ($3 == "" ? 1e9 : $3), $0 }' | sort -k1,1n -k2,2n |
        while read -r pid _ file; do
            case $pid:$file in
                "$main":*.1) names "$out/$file" >>"$scratch/start" ;;
                "$main":*) names "$out/$file" >>"$scratch/loop" ;;
                *.1) ;; # a child's first part is what it inherited
                # A child that forks (the zombie's flood parent) is a
                # parent between its forks: what it runs there is run
                # once, not by each of its children.
                *:cg.*.*) names "$out/$file" >>"$scratch/loop" ;;
                *) names "$out/$file" >>"$scratch/children" ;;
            esac
        done
done

# Only the lessons' own functions, each once, where it first comes.
for name in "${profiled[@]}"; do
    nm --defined-only "$bin/$name" | awk '$2 ~ /^[tTwW]$/ { print $3 }'
done | sort -u >"$scratch/defined"
cat "$scratch/children" "$scratch/loop" "$scratch/start" |
    awk 'NR == FNR { defined[$0] = 1; next } defined[$0] && !seen[$0]++' "$scratch/defined" - >"$symbols"
# Then the lessons' own writable statics, common's and each lesson's, the
# smallest first: a child writes to several of them (its name, its pid, its
# draws, its list of children), each page it writes to is copied, and so
# the small ones lie together (on two pages: lld keeps .data and .bss
# apart), the table of children to pass a stop on to (16 kB) after them.
# With them std's STDOUT, whose lock every fork takes to flush what is
# buffered.
for name in "${profiled[@]}"; do
    # nm gives each size in hexadecimal, as wide as the others.
    nm --defined-only -S "$bin/$name" |
        awk -v lesson="${name//-/_}" '$3 ~ /^[bBdD]$/ && ($4 ~ "^_ZN6common" || $4 ~ "^_ZN" length(lesson) lesson || $4 ~ /3std2io5stdio6STDOUT$/) {
            print $2, $4 }'
done | LC_ALL=C sort | awk '!seen[$2]++ { print $2 }' >>"$symbols"
echo "wrote $symbols: $(wc -l <"$symbols") functions and statics, $(awk 'NR == FNR { c[$0] = 1; next } c[$0]' \
    <(sort -u "$scratch/children") "$symbols" | wc -l) of them a child's"
