#!/usr/bin/env bash
# A rescan's hash phase runs after the walk has committed what it listed; on a
# large new tree that is hours later. A file changed, removed or replaced by a
# symlink or a FIFO in between is a race with the user, not a failure (SPEC §7.7: it is
# examined on a later run): a note, exit 0, as load says of a file that changed
# while being read. Exit 3 before ("changed since the scan listed it", "open: No
# such file or directory", "open: Too many levels of symbolic links"), which a
# cron scan of a live tree would have raised as an alarm; the FIFO hung the scan
# (open without O_NONBLOCK waits for a writer). The file stays "not
# hashed" in status until the next scan, which hashes it or records it gone.
source "$(dirname "$0")/lib.sh"
need_strace_delays

setup_pair --on-delete trash # the directory gone at the end leaves the destination
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
echo five >"$SRC/z-fifo"
age "$SRC"/a?.bin "$SRC"/z-*
strace -f -qq -o /dev/null -P "$SRC/a1.bin" -P "$SRC/a2.bin" -e trace=read \
    -e inject=read:delay_enter=400000 "$BARGE" scan >"$T/out" 2>"$T/err" &
tracer=$!
# Waits until a1.bin has been read from (its descriptor's position moved): the
# walk is over and the hash phase is reading it.
wait_traced_open $tracer "$SRC/a1.bin" 0 || fail "the scan never read a1.bin"
echo more >>"$SRC/z-changed"
rm "$SRC/z-gone"
rm "$SRC/z-link"
ln -s base "$SRC/z-link"
# A FIFO in a file's place: opened for reading without O_NONBLOCK, it would
# hang the scan until a writer came (the watchdog ends that wait).
rm "$SRC/z-fifo"
mkfifo "$SRC/z-fifo"
(sleep 60 && kill $tracer) >/dev/null 2>&1 & # not holding the test's output open
watchdog=$!
rc=0
wait $tracer || rc=$?
kill $watchdog 2>/dev/null || true
[[ $rc -eq 0 ]] || fail "scan exited $rc: $(cat "$T/out" "$T/err")"
for want in "z-changed' changed since the scan listed it" \
    "z-gone' vanished or was replaced since the scan listed it" \
    "z-link' vanished or was replaced since the scan listed it" \
    "z-fifo' changed since the scan listed it"; do
    grep -qF "$want" "$T/out" || fail "no note '$want': $(cat "$T/out")"
done
[[ ! -s $T/err ]] || fail "the scan wrote on stderr: $(cat "$T/err")"
expect_exit 0 barge status --json
expect_eq 4 "$(json '.pairs[0].unhashed')" "files left unhashed by the raced scan"

# The next scan hashes what changed, records the gone file and the symlink.
expect_exit 0 barge scan
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].unhashed')" "files left unhashed after a quiet scan"
age "$SRC"/z-changed
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the raced scan"

# A directory removed while the walk lists it (its first getdents64 delayed 2 s,
# the directory removed meanwhile): getdents then fails with ENOENT, which is the
# same race as a directory gone before its open: a note, not exit 3 ("getdents
# '...': No such file or directory" before; random_live_source.sh seed 24).
mkdir "$SRC/gone-dir"
echo q >"$SRC/gone-dir/q"
age "$SRC/gone-dir/q" "$SRC/gone-dir"
expect_exit 0 barge load
expect_exit 0 barge unload
strace -f -qq -o /dev/null -P "$SRC/gone-dir" -e trace=getdents64 \
    -e inject=getdents64:delay_enter=2000000 "$BARGE" scan >"$T/out" 2>"$T/err" &
tracer=$!
wait_traced_open $tracer "$SRC/gone-dir" || fail "the scan never opened gone-dir"
rm -r "$SRC/gone-dir"
rc=0
wait $tracer || rc=$?
[[ $rc -eq 0 ]] || fail "gone-dir: scan exited $rc: $(cat "$T/out" "$T/err")"
grep -qF "gone-dir' vanished or was replaced while the scan listed it" "$T/out" ||
    fail "gone-dir: no note: $(cat "$T/out")"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after a directory vanished while listed"
echo ok
