#!/usr/bin/env bash
# The progress line (SPEC §5 Output): on a terminal, stderr shows one updating
# line per long phase with files and bytes done of the total, the rate and the
# current file; when stderr is not a terminal, or with -q, nothing of it.
source "$(dirname "$0")/lib.sh"
command -v script >/dev/null || skip "script (util-linux) is not installed"

setup_pair
# Large enough that the line is redrawn (every 0.2 s) while files are copied.
for i in 1 2 3; do head -c 40000000 /dev/urandom >"$SRC/file$i"; done
age "$SRC"/file*

# on_tty LOG COMMAND: runs COMMAND with stdin/stdout/stderr on a pseudo-terminal
# (script), stdout sent to /dev/null inside it, so LOG holds what went to stderr.
on_tty() {
    local log=$1
    shift
    script -qec "$* >/dev/null" "$log" >/dev/null </dev/null || fail "'$*' failed under a terminal"
}

on_tty "$T/load.tty" "$BARGE" load
grep -q $'\r\033\\[Kload: 0/3 files, 0 B/114.4 MiB' "$T/load.tty" ||
    fail "no load progress line with its totals on the terminal: $(cat -v "$T/load.tty")"
grep -qE $'load: [1-3]/3 files, [0-9.]+ [KM]i?B/114.4 MiB, [0-9.]+ [KMG]?i?B/s.* file[1-3]' "$T/load.tty" ||
    fail "no load progress with rate and current file: $(cat -v "$T/load.tty")"
# After the last "erase line", no progress text is left on the terminal.
perl -0ne 'exit(/\e\[K([^\e]*)\z/ && $1 !~ /files/ ? 0 : 1)' "$T/load.tty" ||
    fail "the progress line is not cleared at the end: $(tail -c 200 "$T/load.tty" | cat -v)"

# Not a terminal: nothing on stderr at all (cron mails only problems).
rm -rf "$DST"
expect_exit 0 barge unload
[[ ! -s $T/err ]] || fail "stderr not empty when it is not a terminal: $(cat -v "$T/err")"

# -q on a terminal: no progress either.
echo changed >"$SRC/file1"
age "$SRC/file1"
on_tty "$T/quiet.tty" "$BARGE" -q load --accept-mass-change # 1 of 3 files changed
! grep -q $'\033\\[K' "$T/quiet.tty" || fail "-q still drew progress: $(cat -v "$T/quiet.tty")"

# unload on a terminal shows its own phase with totals.
on_tty "$T/unload.tty" "$BARGE" unload
grep -q $'unload: 0/1 files' "$T/unload.tty" || fail "no unload progress line: $(cat -v "$T/unload.tty")"
expect_same_tree "$SRC" "$DST"
echo ok
