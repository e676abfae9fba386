#!/usr/bin/env bash
# The whole course in one command: builds the lessons once, then runs each
# in the notes' order, saying before each what to watch for and showing the
# diff that separates two versions. Ends by checking nothing was left behind.
set -euo pipefail

lessons=(zombie orphan printer-v1 printer-v2 printer-v3 ticket-unsafe ticket-locked)

usage() {
    cat <<'USAGE'
usage: scripts/run_all.sh [--fast] [--pause] [--quiz] [--lang zh|en]
                          [--seed N] [--only NAME...] [--help]

Builds the lessons, then runs them in the notes' order:
  zombie orphan printer-v1 printer-v2 printer-v3 ticket-unsafe ticket-locked

  --fast          run the lessons' clock 10 times faster (the course takes
                  seconds)
  --pause         wait for Enter before each lesson after the first, and pass
                  --pause on: each lesson waits at every step worth a look
  --quiz          before each part worth predicting, ask a question (answer
                  with its number, typed or piped one a line); the score
                  comes at the end
  --lang zh|en    the language of the course (default: LESSON_LANG, else the
                  locale: zh if LC_ALL, LC_MESSAGES or LANG starts with zh)
  --seed N        give every lesson --seed N (without it, one is drawn and
                  shown), so the printers sleep alike and each command shown
                  replays its sleeps
  --only NAME...  run only the lessons named (any of the above)
  --help          show this help

Colours are off when NO_COLOR is set or the output is not a terminal.
Ctrl-C stops the lesson running and ends the walkthrough.
USAGE
}

fail_usage() {
    echo "run_all.sh: $1 (see --help)" >&2
    exit 2
}

speed=1 pause=0 quiz=0 seed='' only=() lang=${LESSON_LANG:-}
while [ $# -gt 0 ]; do
    case $1 in
        --fast) speed=10 ;;
        --pause) pause=1 ;;
        --quiz) quiz=1 ;;
        --lang)
            [ $# -ge 2 ] || fail_usage "--lang needs zh or en"
            case $2 in zh | en) lang=$2 ;; *) fail_usage "--lang needs zh or en, not '$2'" ;; esac
            shift
            ;;
        --seed)
            [ $# -ge 2 ] || fail_usage "--seed needs a number"
            case $2 in '' | *[!0-9]*) fail_usage "--seed needs a number, not '$2'" ;; esac
            [ ${#2} -le 19 ] || fail_usage "--seed needs a number of at most 19 digits"
            seed=$2
            shift
            ;;
        --only)
            shift
            while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do
                case " ${lessons[*]} " in
                    *" $1 "*) only+=("$1") ;;
                    *) fail_usage "there is no lesson called '$1'" ;;
                esac
                shift
            done
            [ ${#only[@]} -gt 0 ] || fail_usage "--only needs at least one lesson name"
            continue
            ;;
        -h | --help) usage; exit 0 ;;
        *) fail_usage "unknown option '$1'" ;;
    esac
    shift
done

cd "$(dirname "$0")/.."

if [ -z "$lang" ]; then
    locale=${LC_ALL:-${LC_MESSAGES:-${LANG:-}}}
    case $locale in zh*) lang=zh ;; *) lang=en ;; esac
fi
export LESSON_LANG=$lang # the lessons, and diff.sh, speak it too

# What the walkthrough itself says, in either language: t KEY.
declare -A en zh
en[nothing]='Nothing left behind:%s no zombie and no process of the lessons is still running.'
zh[nothing]='什么也没留下：%s没有僵尸进程，课程的进程也都已结束。'
en[left]='Left behind%s (pid, parent, state, name; Z is a zombie):'
zh[left]='留下了这些进程%s（pid、父进程、状态、名字；Z 是僵尸进程）：'
en[building]='Building the lessons once (cargo build --workspace)...'
zh[building]='先把所有课程编译一次（cargo build --workspace）……'
en[seed]="Every lesson gets --seed %s: with one seed each process sleeps as long in every run, so the three printers' times compare and any command shown replays its sleeps. Who runs first when several are ready stays the kernel's choice."
zh[seed]='每一课都用 --seed %s：种子相同，每个进程每次睡的时间就相同，所以三个打印机版本的时间可以比较，下面显示的每条命令粘贴过去也会重现同样的睡眠时长。几个进程同时就绪时谁先运行，仍由内核决定。'
en[every]='Is the oversell luck? Every schedule of the sleep points (the order in which 3 buyers pass them), each a real sale of 1 ticket, with --every-schedule:'
zh[every]='超卖是运气吗？用 --every-schedule 把睡眠点的每一种调度（3 个买家通过睡眠点的先后顺序）都跑一遍，每种都是一次真实的售票，只有 1 张票：'
en[replay_ticket-unsafe]='The shortest schedule that oversold, forced with --schedule %s: the same interleaving every time, with real processes.'
zh[replay_ticket-unsafe]='超卖的调度里最短的一个，用 --schedule %s 强制执行：每次都是同样的交错顺序，用的是真实的进程。'
en[replay_ticket-locked]='The same schedule under the lock, --schedule %s: the lock changes what each turn does, and the schedule cannot run; the lesson says which turn cannot be given, and why.'
zh[replay_ticket-locked]='同一个调度放到有锁的版本里，--schedule %s：锁改变了每一轮做的事，这个调度跑不了；课程会说出哪一轮给不出去，以及为什么。'
en[stopped]='Stopped.'
zh[stopped]='已停止。'
en[press]='Press Enter for %s (Ctrl-C to stop)...'
zh[press]='按回车开始 %s（Ctrl-C 结束）……'
en[exited]='%s exited with status %s'
zh[exited]='%s 以状态 %s 退出'
en[score]='Score:%s %d of %d'
zh[score]='得分：%s答对 %d 题，共 %d 题'
en[failed]='These lessons failed: %s'
zh[failed]='这些课程失败了：%s'
en[done_one]='Done:%s %d lesson.'
en[done_many]='Done:%s %d lessons.'
zh[done_one]='完成：%s共 %d 课。'
zh[done_many]='完成：%s共 %d 课。'
t() {
    if [ "$lang" = zh ]; then printf '%s' "${zh[$1]}"; else printf '%s' "${en[$1]}"; fi
}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\e[1m' dim=$'\e[2m' off=$'\e[0m'
else
    bold='' dim='' off=''
    export NO_COLOR=1 # the lessons' lines too
fi

# The walkthrough judges only what it started: the processes of its own
# process group (a lesson's children stay in it when they are adopted, and
# so do zombies), not those of another terminal, another walkthrough or
# another user. Each line: pid, parent, state, name.
group=$(ps -o pgid= -p $$ | tr -d ' ')
# What of this group it left: not there before its first lesson began (a
# pipe's other end, `| tee`, was), not its own helpers still running (this
# ps and awk), and not run by another process still alive in the group (a
# walkthrough started beside this one from the same non-interactive shell
# shares its group): what is left has lost its parent, or is the child of
# what is left. No process substitution here: bash does not wait for one,
# and its process would be left, a zombie, to an init that may never reap
# it.
check_nothing_left() {
    local left
    left=$(ps -A -o pid=,ppid=,pgid=,stat=,comm= | before=$before awk -v group="$group" -v me=$$ '
        function mine(p) {
            for (;;) {
                if (p == me) return 1
                if (p <= 1 || !(p in ppid)) return 0
                p = ppid[p]
            }
        }
        function left(p) {
            if (!(p in ours) || (p in old) || mine(p)) return 0
            return !(ppid[p] in ours) || left(ppid[p])
        }
        BEGIN {
            n = split(ENVIRON["before"], lines, "\n")
            for (i = 1; i <= n; i++) { split(lines[i], f, " "); if (f[1] != "") old[f[1]] = 1 }
        }
        { ppid[$1] = $2; text[$1] = $0; if ($3 == group) ours[$1] = 1 }
        END {
            for (p in ours) if (left(p)) { $0 = text[p]; $3 = ""; sub(/  /, " "); print }
        }' | sort -n)
    if [ -z "$left" ]; then
        # shellcheck disable=SC2059 # the format is the message, in either language
        printf "\n$bold$(t nothing)\n" "$off"
        return 0
    fi
    # shellcheck disable=SC2059
    printf "\n$bold$(t left)\n%s\n" "$off" "$left"
    return 1
}

# One seed for the whole course: the three printers sleep alike, so their
# times compare, and every command shown can be pasted to replay it.
[ -n "$seed" ] || seed=$((RANDOM % 99999 + 1))
# As the lessons do, keep of the umask only what it takes from group and
# others: one that takes the owner's own bits (umask 277) would leave the
# walkthrough's own directories unwritable to it.
umask "$(printf '%04o' $((8#$(umask) & 8#077)))"
# The ticket office keeps its database in a directory of this user's, not
# in the checkout.
office=${TMPDIR:-/tmp}/unix-process-lessons-$(id -u)
mkdir -p "$office"
if [ -L "$office" ] || [ ! -O "$office" ]; then
    echo "run_all.sh: $office is not a directory of yours: remove it, or set TMPDIR" >&2
    exit 1
fi
chmod 700 "$office"
# In it, each walkthrough takes a numbered directory of its own, for its
# ticket file and its quiz's traces: two walkthroughs of one user at once
# (two terminals) must not sell from one file, nor count each other's
# answers. It holds a lock on it (flock(1), where there is one) while any
# of its processes runs, which means the same in every pid namespace, as a
# pid would not; the next walkthrough takes the first directory unlocked.
# None is removed, so that the commands shown still run when pasted.
take() {
    exec 9>"$1/.taken"
    ! command -v flock >/dev/null || flock -n 9
}
slot=1
while ! { mkdir -p "$office/$slot" && take "$office/$slot"; }; do
    slot=$((slot + 1))
    [ "$slot" -le 100 ] || { echo "run_all.sh: 100 walkthroughs at once in $office" >&2; exit 1; }
done
walk=$office/$slot
answers=$walk
rm -f "$answers"/quiz-*.jsonl
# The end of every walkthrough, finished or stopped: what it left behind,
# the quiz's score, and how many lessons it ran; exits with `$1`, or 1 if
# something was left.
finish() {
    local code=$1
    # Stopped while building, no lesson ran: cargo's own processes, dying
    # of the Ctrl-C too, are none of the lessons'.
    if [ "$shown" -gt 0 ]; then
        check_nothing_left || { [ "$code" != 0 ] || code=1; }
    fi
    if [ "$quiz" = 1 ]; then
        local asked=0 held=0 trace
        for trace in "$answers"/quiz-*.jsonl; do
            [ -f "$trace" ] || continue
            asked=$((asked + $(grep -c '"event":"quiz"' "$trace" || true)))
            held=$((held + $(grep -c '"held":true' "$trace" || true)))
        done
        # shellcheck disable=SC2059
        printf "$bold$(t score)\n" "$off" "$held" "$asked"
    fi
    if [ ${#failed[@]} -gt 0 ]; then
        # shellcheck disable=SC2059
        printf "$(t failed)\n" "${failed[*]}" >&2
        [ "$code" != 0 ] || code=1
    fi
    [ "$shown" = 1 ] && done=done_one || done=done_many
    # shellcheck disable=SC2059
    printf "$bold$(t "$done")\n" "$off" "$shown"
    exit "$code"
}

failed=() shown=0
stop() {
    printf '\n%s%s%s\n' "$bold" "$(t stopped)" "$off"
    [ "$interrupted" != 0 ] || interrupted=130
    finish "$interrupted"
}

# Ctrl-C reaches the lesson too, which stops and reaps its children; the
# walkthrough waits for it, then stops.
interrupted=0 waiting=0
# Waiting for Enter, the walkthrough stops at once: bash would go on
# reading after the trap.
trap 'interrupted=130; [ "$waiting" = 0 ] || stop' INT
trap 'interrupted=143; [ "$waiting" = 0 ] || stop' TERM

before=$(ps -A -o pid=,pgid= | awk -v group="$group" '$2 == group { print $1 }')
echo "${bold}$(t building)${off}"
cargo build --workspace || {
    status=$?
    [ "$interrupted" = 0 ] || stop
    exit "$status"
}

# What the walkthrough says itself is wrapped to the terminal's width as
# the lessons' lines are (and left as it is for a pipe or a file), by the
# course's own wrapper, built with the lessons; commands break only as
# they paste, with a backslash.
course_wrap() {
    local built=${CARGO_TARGET_DIR:-target}/debug/course-wrap
    if [ -x "$built" ]; then
        "$built" "$@"
    else
        cargo run -q -p common --bin course-wrap -- "$@"
    fi
}

# shellcheck disable=SC2059
printf "\n$(t seed)\n" "$seed" | course_wrap

# The words of a command as a shell takes them back: a word with anything
# but letters, digits and /._-+,:=@% in it goes in single quotes.
pasteable() {
    local word out=()
    for word in "$@"; do
        case $word in
            '' | *[!A-Za-z0-9/._+,:=@%-]*) out+=("'${word//\'/\'\\\'\'}'") ;;
            *) out+=("$word") ;;
        esac
    done
    printf '%s' "${out[*]}"
}

# Each note is one paragraph, wrapped as it is printed.
declare -A notes previous
notes[zombie]="僵尸进程 (zombie process): a child that has ended keeps its pid, exit status and CPU time in the process table until its parent reaps it. Watch the dead child in state Z (and ps call it <defunct>), shrug off kill -9, and hand its parent what the kernel kept; then a hundred zombies under a parent that never reaps, until it is killed; then the three ways real programs avoid zombies."
notes[orphan]="孤儿进程 (orphan process): a parent ends while its child still runs, and another process adopts the child. Watch the child's parent change from P to its adopter, which reaps it at the end."
notes[printer-v1]="互斥锁 (mutex), 版本一: three colleagues share one printer, with nothing to keep them apart. Watch all three start printing at once and their bars in the drawing overlap; the line that begins \"Time:\" says why it was quick."
notes[printer-v2]="版本二: the parent joins each colleague before it starts the next. Watch them print one at a time, always p1, p2, p3: the code fixed the order, and nobody waited. Same seed, same sleeps as v1: compare the times."
notes[printer-v3]="版本三: all start at once again, but each must acquire a Lock to print. Watch them take turns in the order they got the lock; the dots show who waited. The notes call a lock fair: see what the verdict says of that."
notes[ticket-unsafe]="抢票系统 (ticket office), 进程之间的通信: six buyers share a JSON file holding 3 tickets, with no lock. Watch everyone see tickets left, everyone be told \"bought\", and the reckoning find the oversell."
notes[ticket-locked]="The same sale, with a lock around each purchase (read, take one, write back). Watch the purchases come one at a time, the last buyers find them sold out, and every ticket be accounted for."
declare -A notes_zh
notes_zh[zombie]="僵尸进程：结束了的子进程，在父进程回收它之前，仍在进程表里保留它的 pid、退出状态和用过的 CPU 时间。看死去的子进程处于 Z 状态（ps 显示为 <defunct>），kill -9 也奈何不了它，以及父进程拿回内核替它保存的东西；再看一个从不回收的父进程底下堆起上百个僵尸进程，直到它被杀死；最后看真实的程序避免僵尸进程的三种办法。"
notes_zh[orphan]="孤儿进程：父进程先结束了，子进程还在运行，于是另一个进程收养了它。看子进程的父进程从 P 变成收养者，最后由收养者回收它。"
# shellcheck disable=SC1111 # Chinese quotation marks, meant
notes_zh[printer-v1]="互斥锁，版本一：三位同事共用一台打印机，谁也不等谁。看三个人同时开始打印，时间线上的横条彼此重叠；以“时间：”开头的那一行说明了为什么这么快。"
notes_zh[printer-v2]="版本二：父进程先 join 上一位同事，再启动下一位。看他们一个接一个地打印，永远是 p1、p2、p3：顺序由代码决定，谁也不用等。种子相同，睡的时间也和版本一相同：比较一下时间。"
notes_zh[printer-v3]="版本三：大家又同时启动，但每个人打印前都要先 acquire 一把锁。看他们按拿到锁的先后轮流打印；点表示谁在等。笔记说锁是公平的：看看结论怎么说。"
# shellcheck disable=SC1111
notes_zh[ticket-unsafe]="抢票系统，进程之间的通信：六位买家共用一个 JSON 文件，里面有 3 张票，没有锁。看每个人都看到还有票，每个人都被告知“购买成功”，而清点发现票卖超了。"
notes_zh[ticket-locked]="同样的抢票，但每次购买（读、取一张、写回）都在锁里进行。看购买一个接一个地发生，后来的买家发现票已卖完，每一张票都对得上账。"
previous[printer-v2]=printer-v1
previous[printer-v3]=printer-v2
previous[ticket-locked]=ticket-unsafe

# After a ticket lesson's plain run: every schedule of 3 buyers and 1
# ticket, each a real sale; then the shortest that oversold without a lock
# replayed, as --schedule, in this lesson (ticket-locked refuses it: under
# the lock it cannot run, which is the point, and no failure).
oversold_schedule=''
every_schedule() {
    local name=$1 status=0
    local trace=$walk/every-$name.jsonl
    local base=(cargo run -q -p "$name" -- --seed "$seed" --buyers 3 --tickets 1 --file "$walk/every.json")
    [ "$lang" = en ] || base+=(--lang "$lang")
    # shellcheck disable=SC2059
    printf "\n$(t every)\n" | course_wrap
    run_shown "${base[@]}" --every-schedule --trace "$trace" || status=$?
    [ "$status" = 0 ] || { lesson_failed "$name" "$status"; return; }
    if [ "$name" = ticket-unsafe ]; then
        # The tally's record: {"event":"tally",...,"shortest_oversold":"1,2,1,2,3"}
        oversold_schedule=$(sed -n 's/.*"event":"tally".*"shortest_oversold":"\([0-9,]*\)".*/\1/p' "$trace")
    fi
    [ -n "$oversold_schedule" ] || return 0
    # shellcheck disable=SC2059
    printf "\n$(t "replay_$name")\n" "$oversold_schedule" | course_wrap
    status=0
    local replayed=$walk/replay-$name.jsonl
    LESSON_TRACE=$replayed run_shown "${base[@]}" --schedule "$oversold_schedule" || status=$?
    case $name:$status in
        *:0) ;;
        # Refused as it should be only if the lesson recorded the turn that
        # could not be given; a file it could not read ends in 1 too.
        ticket-locked:1) grep -q '"event":"impossible"' "$replayed" || lesson_failed "$name" "$status" ;;
        *) lesson_failed "$name" "$status" ;;
    esac
}

# Shows a command as it can be pasted, then runs it; stops the walkthrough
# if it was stopped. A command too long for the terminal goes on over
# lines, as it can be pasted: broken between arguments, each line but the
# last ending in \.
run_shown() {
    printf '\n%s' "$dim"
    printf '$ %s\n' "$(pasteable "$@")" | course_wrap --command
    printf '%s' "$off"
    local status=0
    "$@" || status=$?
    if [ "$interrupted" != 0 ] || [ "$status" = 130 ] || [ "$status" = 143 ]; then
        [ "$interrupted" != 0 ] || interrupted=$status
        stop
    fi
    return "$status"
}

lesson_failed() {
    # shellcheck disable=SC2059
    printf "$bold$(t exited)$off\n" "$1" "$2"
    failed+=("$1")
}

for name in "${lessons[@]}"; do
    if [ ${#only[@]} -gt 0 ] && [[ " ${only[*]} " != *" $name "* ]]; then
        continue
    fi
    if [ "$pause" = 1 ] && [ "$shown" -gt 0 ]; then
        # shellcheck disable=SC2059
        printf "\n$bold$(t press)$off" "$name"
        waiting=1
        read -r _ || true
        waiting=0
        [ "$interrupted" = 0 ] || stop
    fi
    shown=$((shown + 1))
    note=${notes[$name]}
    [ "$lang" = en ] || note=${notes_zh[$name]}
    printf '\n%s══ %s ══%s\n' "$bold" "$name" "$off"
    printf '%s\n' "$note" | course_wrap
    if [ -n "${previous[$name]:-}" ]; then
        echo
        scripts/diff.sh "${previous[$name]}" "$name"
    fi
    command=(cargo run -q -p "$name" -- --speed "$speed")
    command+=(--seed "$seed")
    [ "$lang" = en ] || command+=(--lang "$lang")
    [ "$pause" = 0 ] || command+=(--pause)
    # Each lesson's answers go to a trace of its own, to add up the score.
    [ "$quiz" = 0 ] || command+=(--quiz --trace "$answers/quiz-$name.jsonl")
    case $name in ticket-*) command+=(--tickets 3 --file "$walk/ticket.json") ;; esac
    status=0
    run_shown "${command[@]}" || status=$?
    [ "$status" = 0 ] || lesson_failed "$name" "$status"
    case $name in ticket-*) every_schedule "$name" ;; esac
done

finish 0
