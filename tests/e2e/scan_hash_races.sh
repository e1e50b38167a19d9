#!/usr/bin/env bash
# A rescan's hash phase runs after the walk has committed what it listed; on a
# large new tree that is hours later. A file changed, removed or replaced by a
# symlink in between is a race with the user, not a failure (SPEC §7.7: it is
# examined on a later run): a note, exit 0, as load says of a file that changed
# while being read. Exit 3 before ("changed since the scan listed it", "open: No
# such file or directory", "open: Too many levels of symbolic links"), which a
# cron scan of a live tree would have raised as an alarm. The file stays "not
# hashed" in status until the next scan, which hashes it or records it gone.
source "$(dirname "$0")/lib.sh"
need_strace_delays

setup_pair
echo base >"$SRC/base"
age "$SRC/base"
expect_exit 0 barge load
expect_exit 0 barge unload

# Two slow files come first in the hash phase (by path), one for each hashing
# thread; the other files are changed while both threads read them.
head -c 8000000 /dev/urandom >"$SRC/a1.bin"
head -c 8000000 /dev/urandom >"$SRC/a2.bin"
echo one >"$SRC/z-changed"
echo two >"$SRC/z-gone"
echo three >"$SRC/z-link"
echo four >"$SRC/z-steady"
age "$SRC"/a?.bin "$SRC"/z-*
strace -f -qq -o /dev/null -P "$SRC/a1.bin" -P "$SRC/a2.bin" -e trace=read \
    -e inject=read:delay_enter=400000 "$BARGE" scan >"$T/out" 2>"$T/err" &
tracer=$!
# Waits until a1.bin has been read from (its descriptor's position moved): the
# walk is over and the hash phase is reading it.
reading=
for ((i = 0; i < 3000 && !reading; i++)); do
    pid=$(pgrep -P $tracer | head -1) || true
    for fd in /proc/${pid:-none}/fd/*; do
        [[ $(readlink "$fd" 2>/dev/null) == "$SRC/a1.bin" ]] || continue
        pos=$(awk '/^pos:/ {print $2}' "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null) || true
        [[ ${pos:-0} -gt 0 ]] && reading=1 && break
    done
    [[ $reading ]] || sleep 0.01
done
[[ $reading ]] || fail "the scan never read a1.bin"
echo more >>"$SRC/z-changed"
rm "$SRC/z-gone"
rm "$SRC/z-link"
ln -s base "$SRC/z-link"
rc=0
wait $tracer || rc=$?
[[ $rc -eq 0 ]] || fail "scan exited $rc: $(cat "$T/out" "$T/err")"
for want in "z-changed' changed since the scan listed it" \
    "z-gone' vanished or was replaced since the scan listed it" \
    "z-link' vanished or was replaced since the scan listed it"; do
    grep -qF "$want" "$T/out" || fail "no note '$want': $(cat "$T/out")"
done
[[ ! -s $T/err ]] || fail "the scan wrote on stderr: $(cat "$T/err")"
expect_exit 0 barge status --json
expect_eq 3 "$(json '.pairs[0].unhashed')" "files left unhashed by the raced scan"

# The next scan hashes what changed, records the gone file and the symlink.
expect_exit 0 barge scan
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].unhashed')" "files left unhashed after a quiet scan"
age "$SRC"/z-changed
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the raced scan"
echo ok
