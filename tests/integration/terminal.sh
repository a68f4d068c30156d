#!/usr/bin/env bash
# salvo on a real terminal (a tmux pane, 200 x 50): the progress bar is drawn on stderr
# while the run goes and is gone at the end; records on the terminal are a table with
# the summary as its footer, in colour unless NO_COLOR is set; -s silences the bar and
# the summary; records sent elsewhere are JSON Lines, with the summary on the terminal.
. "$(dirname "$0")/../lib.sh"
command -v tmux >/dev/null || { not_ok "tmux is installed" "make deps installs it"; finish; }
start_testd terminal || exit 1
U="http://127.0.0.1:$TESTD_PORT"

# Our own tmux server, on its own socket: only it is ever killed.
SOCK="salvo-test-$$"
tm() { tmux -L "$SOCK" -f /dev/null "$@"; }
tm new-session -d -s salvo -x 200 -y 50 "env PS1='$ ' bash --norc --noprofile" ||
    { not_ok "tmux starts a session" "tmux new-session failed"; finish; }
T_PIDS+=("$(tm display-message -p '#{pid}')")
TMUX_SOCKET=$(tm display-message -p '#{socket_path}')
stop_tmux() { tm kill-server 2>/dev/null; rm -f "$TMUX_SOCKET"; t_cleanup; }
trap stop_tmux EXIT

# run_case NAME COMMAND [ERE]: runs COMMAND in the pane (after clearing it and its
# history), polls the pane every 0.1 s until it ends (at most 30 s), sets SEEN to 1 when
# a line of the pane matched ERE at some poll, and PANE, PANE_E (with escape sequences)
# and RC at the end, from the history as well as the screen.
run_case() {
    local name=$1 cmd=$2 ere=${3:-} rcf="$T_DIR/$1.rc" i
    printf '%s\necho $? >%s\n' "$cmd" "$rcf" >"$T_DIR/$name.sh"
    tm send-keys -t salvo "clear" Enter
    sleep 0.1
    tm clear-history -t salvo
    tm send-keys -t salvo "bash $T_DIR/$name.sh" Enter
    SEEN=0
    for i in $(seq 1 300); do
        [ -n "$ere" ] && tm capture-pane -t salvo -p | grep -qE "$ere" && SEEN=1
        [ -s "$rcf" ] && break
        sleep 0.1
    done
    sleep 0.2 # the prompt comes back
    PANE=$(tm capture-pane -t salvo -p -S -)
    PANE_E=$(tm capture-pane -t salvo -p -e -S -)
    RC=$(cat "$rcf" 2>/dev/null || echo none)
}

BAR='\[[#.]+\] [0-9]+/40 +[0-9]+/s +[0-9]+ failed +[0-9]+\.[0-9] s'
slow=""
for i in $(seq 1 40); do slow="$slow $U/delay/150?i=$i"; done
S="env -u NO_COLOR $SALVO"

# ---- the progress bar -----------------------------------------------------------------
run_case bar "$S -c 4 -o $T_DIR/bar.jsonl $slow" "$BAR"
check_eq "the progress bar is drawn while the run goes (done/total, rate, failures, elapsed)" \
    1 "$SEEN"
check_eq "... and is gone at the end" 0 "$(grep -cE "$BAR" <<<"$PANE")"
check_eq "... the summary follows on the terminal, records in the file" \
    "0 records  40: 40 ok, 0 not ok 40" \
    "$RC $(grep '^records ' <<<"$PANE") $(jq -c . "$T_DIR/bar.jsonl" | wc -l)"

# ---- -s -------------------------------------------------------------------------------
run_case silent "$S -s -c 4 -o $T_DIR/silent.jsonl $slow" "$BAR|[0-9]+/40"
check_eq "-s: no progress bar at any time, no summary" "0 0 0" \
    "$RC $SEEN $(grep -c '^records ' <<<"$PANE")"

# ---- records on the terminal: a table with its footer ----------------------------------
tab="$slow $U/status/404 http://127.0.0.1:1/"
run_case table "$S -c 4 --retry 0 $tab" "$BAR"
rows=$(grep -cE '^ *[0-9]+  ' <<<"$PANE")
check_eq "records on a terminal are a table: its header, 42 rows, the footer" \
    "1 42 records  42: 40 ok, 2 not ok" \
    "$(grep -cE '^ *index +status +result +total ms +bytes +url' <<<"$PANE") $rows $(grep '^records ' <<<"$PANE")"
check_eq "... the summary is not printed a second time, no bar is left" "1 0" \
    "$(grep -c '^records ' <<<"$PANE") $(grep -cE "$BAR" <<<"$PANE")"
check_eq "... rows say ok, the failed check, the error class" "40 1 1" \
    "$(grep -cE '^ *[0-9]+  +200 +ok ' <<<"$PANE") $(grep -cE '^ *[0-9]+  +404 +failed status ' <<<"$PANE") $(grep -cE '^ *[0-9]+  +- +connect_refused ' <<<"$PANE")"
esc=$'\x1b'
check_eq "... in colour: green ok, yellow failed check, red error" "40 1 1" \
    "$(grep -cE "$esc\[32mok " <<<"$PANE_E") $(grep -cE "$esc\[33mfailed status" <<<"$PANE_E") $(grep -cE "$esc\[31mconnect_refused {2,}" <<<"$PANE_E")"

run_case nocolor "NO_COLOR=1 $SALVO -c 4 --retry 0 $tab"
check_eq "NO_COLOR: the same table, without a colour" "42 1 0" \
    "$(grep -cE '^ *[0-9]+  ' <<<"$PANE") $(grep -c '^records ' <<<"$PANE") $(grep -cE "$esc\[[0-9;]*m" <<<"$PANE_E")"

# ---- records elsewhere ----------------------------------------------------------------
run_case piped "$S -c 4 --retry 0 $U/ $U/status/404 >$T_DIR/piped.out"
check_eq "stdout not a terminal: JSON Lines there, the summary on the terminal" \
    "2 records  2: 1 ok, 1 not ok" \
    "$(jq -c . "$T_DIR/piped.out" | wc -l) $(grep '^records ' <<<"$PANE")"
run_case tablefile "$S --format table -o $T_DIR/table.out $U/ $U/status/404"
check_eq "--format table -o FILE: the footer in the file, not on the terminal, no colour" \
    "0 1 0" \
    "$(grep -c '^records ' <<<"$PANE") $(grep -c '^records  2: 1 ok, 1 not ok$' "$T_DIR/table.out") $(grep -c "$esc" "$T_DIR/table.out")"

finish
