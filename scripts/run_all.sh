#!/usr/bin/env bash
# The whole course in one command: builds the workspace, then runs each
# lesson in the notes' order with a few lines on what to watch for.
set -euo pipefail

usage() {
    cat <<'USAGE'
usage: scripts/run_all.sh [--fast] [--help]

Builds the lessons and runs them in the notes' order.
  --fast   run the lessons' clock 10 times faster (the course takes seconds)
  --help   show this help
USAGE
}

speed=1
while [ $# -gt 0 ]; do
    case $1 in
        --fast) speed=10 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "run_all.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
else
    bold='' dim='' off=''
fi

echo "${bold}Building the lessons (cargo build --workspace)...${off}"
cargo build --workspace

# lesson NAME TEXT: a heading, what to watch for, the command, then the run.
lesson() {
    local name=$1 text=$2
    shift 2
    printf '\n%s== %s ==%s\n%s\n' "$bold" "$name" "$off" "$text"
    printf '%s$ cargo run -q -p %s -- --speed %s%s\n' "$dim" "$name" "$speed" "$off"
    cargo run -q -p "$name" -- --speed "$speed"
}

lesson zombie "僵尸进程: a child that has ended stays in the process table until its parent reaps it.
Watch: the dead child in state Z; the exit status and CPU time its parent gets back;
a hundred zombies under a parent that never reaps, until that parent is killed."
lesson orphan "孤儿进程: a parent ends while its child still runs; someone else adopts the child.
Watch: C's parent changes from P to its adopter, which later reaps it."
lesson printer-v1 "Three colleagues share one printer, and nothing keeps them apart.
Watch: all three start printing at once; the timeline's bars overlap."
lesson printer-v2 "The parent now joins each colleague before starting the next.
Watch: one at a time, always p1, p2, p3: the code fixed the order, nobody waited."
lesson printer-v3 "All start at once again, but each must acquire a Lock to print.
Watch: one at a time, the order decided by who got the lock; dots show the waiting."

# The ticket office keeps its database in the current directory: give it
# one of its own, so nothing is left in the checkout.
office=$(mktemp -d)
trap 'rm -rf "$office"' EXIT
lesson() {
    local name=$1 text=$2
    printf '\n%s== %s ==%s\n%s\n' "$bold" "$name" "$off" "$text"
    printf '%s$ cargo run -q -p %s -- --speed %s --tickets 3 --file %s%s\n' "$dim" "$name" "$speed" "$office/ticket.json" "$off"
    cargo run -q -p "$name" -- --speed "$speed" --tickets 3 --file "$office/ticket.json"
}
lesson ticket-unsafe "抢票系统: six buyers, three tickets, one JSON file, no lock.
Watch: everyone sees tickets left and everyone is told \"bought\"; the reckoning finds the oversell."
lesson ticket-locked "The same sale with a lock around each purchase (read, take one, write back).
Watch: purchases one at a time, the last buyers find them sold out, every ticket accounted for."

printf '\n%sDone.%s\n' "$bold" "$off"
