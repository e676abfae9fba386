#!/usr/bin/env bash
# Runs every command README.md shows in a ```sh block, from the top of the
# checkout, so that none of them can quietly stop working. A `diff` that
# exits 1 has found differences, which is what it is there to show.
set -euo pipefail

usage() {
    echo "usage: scripts/readme_commands.sh [--list] [--except COMMAND]..."
    echo "  --list            print the commands instead of running them"
    echo "  --except COMMAND  skip COMMAND (one that was just run anyway)"
}

list=0 except=()
while [ $# -gt 0 ]; do
    case $1 in
        --list) list=1 ;;
        --except)
            [ $# -ge 2 ] || { usage >&2; exit 2; }
            except+=("$2")
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."

# A command substitution, not `< <(...)`: bash waits for the one, and may
# leave the other's process unreaped.
shown=$(awk '/^```sh$/ { on = 1; next } /^```/ { on = 0 } on' README.md |
    sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d')
mapfile -t commands <<<"$shown"
if [ "$list" = 1 ]; then
    printf '%s\n' "${commands[@]}"
    exit 0
fi
[ ${#commands[@]} -gt 0 ] || { echo "readme_commands.sh: README.md shows no command" >&2; exit 1; }

# The ticket lessons write ticket.json where they run: leave no new one here.
created=()
for f in ticket.json ticket.json.lock; do
    [ -e "$f" ] || created+=("$f")
done
log=$(mktemp)
trap 'rm -f "$log"; for f in "${created[@]}"; do rm -f "$f"; done' EXIT
passed=0 failed=0 skipped=0
for command in "${commands[@]}"; do
    if [ ${#except[@]} -gt 0 ] && printf '%s\n' "${except[@]}" | grep -qxF -- "$command"; then
        echo "skipped (run already): $command"
        skipped=$((skipped + 1))
        continue
    fi
    start=$SECONDS
    status=0
    bash -c "$command" </dev/null >"$log" 2>&1 || status=$?
    case $command in diff\ * | git\ diff\ *) [ "$status" = 1 ] && status=0 ;; esac
    if [ "$status" = 0 ]; then
        echo "ok ($((SECONDS - start)) s): $command"
        passed=$((passed + 1))
    else
        echo "FAILED (exit $status): $command"
        tail -n 20 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
