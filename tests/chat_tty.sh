#!/bin/sh
# chat_tty.sh FRUGAL MODEL: drive `frugal chat` through a pseudo-terminal (tmux): a turn,
# Ctrl-C during a long answer (the program must go on), /save, history recall, Ctrl-D.
F="$1"
MODEL="$2"
# a private tmux server (-L): another test run's server exiting (its last session gone) cannot
# take this session down with it
S="frugal_chat_test_$$"
T=$(mktemp -d)
fails=0
bad() { echo "  FAIL: chat: $(printf %s "$1" | cut -c1-300)"; fails=$((fails + 1)); }
ok() { echo "  ok: chat: $1"; }
pane() { tmux -L "$S" capture-pane -p -J -t "$S" -S -2000 | grep -v "^$"; }
wait_for() { # wait_for TEXT SECONDS
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        pane | grep -qF -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
wait_count() { # wait_count TEXT N SECONDS: TEXT appears at least N times
    i=0
    while [ $i -lt $(($3 * 10)) ]; do
        [ "$(pane | grep -cF -- "$1")" -ge "$2" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
wait_growth() { # wait_growth BYTES SECONDS: the pane grows by BYTES (an answer is streaming)
    base=$(pane | wc -c)
    i=0
    while [ $i -lt $(($2 * 10)) ]; do
        [ "$(pane | wc -c)" -gt $((base + $1)) ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
tmux -L "$S" new-session -d -s "$S" -x 200 -y 50 \
    "$F chat -m $MODEL --ctx 30000 -n 30000 --temp 0 -t 2; s=\$?; echo \$s > $T/status; echo CHAT-EXITED-\$s; sleep 30"
# what a failure reports: the pane's last lines and, if it has ended, frugal's exit status
state() { echo "$(pane | tail -5) [frugal: $(cat "$T/status" 2>/dev/null || echo running)]"; }
wait_for "/help for commands" 20 && ok "banner" || bad "no banner: $(pane | tail -5)"
# answers are long (-n 30000): each is stopped with Ctrl-C once it has streamed a while
tmux -L "$S" send-keys -t "$S" "hello" Enter
sleep 0.3
wait_growth 200 120 || bad "the first answer did not stream: $(state)"
tmux -L "$S" send-keys -t "$S" C-c
# A random model's answer may end (end of text) before the Ctrl-C lands; Ctrl-C at the prompt
# then keeps the chat and says how to leave. Either is right; quitting is not.
HINT="(Ctrl-D or /quit leaves)"
wait_for "generated at" 60 && ok "a streamed answer with its speed line" || bad "no answer: $(pane | tail -5)"
wait_stop() { # wait_stop N: N answers to Ctrl-C so far, each a "stopped;" note or the prompt's hint
    i=0
    while [ $i -lt 600 ]; do
        [ $(($(pane | grep -cF -- "stopped;") + $(pane | grep -cF -- "$HINT"))) -ge "$1" ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
wait_stop 1 && ok "Ctrl-C stops the answer (or, after its end, keeps the chat)" || bad "no 'stopped' note: $(state)"
# the program goes on: a second turn
tmux -L "$S" send-keys -t "$S" "tell me more" Enter
sleep 0.3
wait_answer() { # the second answer streams a while, or ends on its own (a second speed line)
    base=$(pane | wc -c)
    i=0
    while [ $i -lt 1200 ]; do
        [ "$(pane | wc -c)" -gt $((base + 200)) ] && return 0
        [ "$(pane | grep -cF -- "generated at")" -ge 2 ] && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
wait_answer || bad "the second answer did not stream: $(state)"
tmux -L "$S" send-keys -t "$S" C-c
wait_stop 2 && ok "Ctrl-C stops the second answer too (or keeps the chat after it)" || bad "second answer: $(state)"
tmux -L "$S" send-keys -t "$S" "/save $T/conv.json" Enter
wait_for "saved 4 messages" 20 && ok "/save" || bad "/save: $(pane | tail -3)"
grep -q '"tell me more"' "$T/conv.json" 2>/dev/null && ok "saved JSON holds the turns" || bad "saved file"
tmux -L "$S" send-keys -t "$S" "/load $T/conv.json" Enter
wait_for "loaded 4 messages" 20 && ok "/load" || bad "/load: $(pane | tail -3)"
tmux -L "$S" send-keys -t "$S" Up
sleep 0.5
pane | tail -2 | grep -qF "/load $T/conv.json" && ok "history recall (Up arrow)" || bad "history: $(pane | tail -2)"
pane | tail -8 > "$T.pane"
# Ctrl-C at the prompt: the chat stays (a late Ctrl-C must not end the conversation)
n0=$(pane | grep -cF -- "$HINT")
tmux -L "$S" send-keys -t "$S" C-u C-c
wait_count "$HINT" $((n0 + 1)) 20 && ok "Ctrl-C at the prompt keeps the chat" || bad "Ctrl-C at the prompt: $(state)"
tmux -L "$S" send-keys -t "$S" C-u "/quit" Enter
wait_for "CHAT-EXITED-0" 20 && ok "/quit exits 0" || bad "exit: $(pane | tail -3)"
tmux -L "$S" kill-session -t "$S" 2>/dev/null
rm -rf "$T" "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$S"
[ "$fails" -eq 0 ]
