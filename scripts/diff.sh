#!/usr/bin/env bash
# Shows what one lesson's main.rs changes from another's: the idea the
# second version adds. With no arguments, lists the pairs worth diffing.
set -euo pipefail

cd "$(dirname "$0")/.."

pairs=(
    "printer-v1 printer-v2|printer-v2 joins each colleague before starting the next"
    "printer-v2 printer-v3|printer-v3 drops the joins and puts a Lock around the printing"
    "ticket-unsafe ticket-locked|ticket-locked puts a Lock around the purchase"
)
# In Chinese (LESSON_LANG=zh, as the walkthrough sets it), in the same order.
pairs_zh=(
    "printer-v2 先 join 上一位同事，再启动下一位"
    "printer-v3 去掉了 join，在打印外面加了一把锁"
    "ticket-locked 在购买外面加了一把锁"
)

usage() {
    echo "usage: scripts/diff.sh [A B]   (show what lesson B's main.rs changes from A's)"
    echo
    echo "Adjacent versions:"
    for pair in "${pairs[@]}"; do
        printf '  scripts/diff.sh %s\n      %s\n' "${pair%%|*}" "${pair#*|}"
    done
}

case $# in
    0) usage; exit 0 ;;
    2) ;;
    *) usage >&2; exit 2 ;;
esac
case $1 in -h | --help) usage; exit 0 ;; esac

a=$1 b=$2
for lesson in "$a" "$b"; do
    if [ ! -f "$lesson/src/main.rs" ]; then
        echo "diff.sh: no lesson called '$lesson' (see scripts/diff.sh)" >&2
        exit 2
    fi
done

what="what $b changes from $a"
[ "${LESSON_LANG:-}" = zh ] && what="$b 相对 $a 改了什么"
for i in "${!pairs[@]}"; do
    pair=${pairs[$i]}
    if [ "${pair%%|*}" = "$a $b" ]; then
        what=${pair#*|}
        [ "${LESSON_LANG:-}" = zh ] && what=${pairs_zh[$i]}
    fi
done

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    red=$'\e[31m' green=$'\e[32m' cyan=$'\e[36m' bold=$'\e[1m' off=$'\e[0m'
else
    red='' green='' cyan='' bold='' off=''
fi

echo "${bold}diff $a/src/main.rs $b/src/main.rs${off}"
if [ "${LESSON_LANG:-}" = zh ]; then
    echo "${bold}  （$what）${off}"
else
    echo "${bold}  ($what)${off}"
fi
# The changed lines with two lines around them, to see where they sit,
# without diff's two file-name lines.
{ diff -U2 "$a/src/main.rs" "$b/src/main.rs" || true; } | tail -n +3 | while IFS= read -r line; do
    case $line in
        @@*) echo "$cyan$line$off" ;;
        -*) echo "$red$line$off" ;;
        +*) echo "$green$line$off" ;;
        *) echo "$line" ;;
    esac
done
