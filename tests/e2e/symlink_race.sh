#!/usr/bin/env bash
# A race at the destination (issue 5, 6): while unload writes into DEST/d, a
# loop swaps DEST/d with a symlink to a directory outside DEST using
# renameat2(RENAME_EXCHANGE), as fast as it can. Every path barge opens is
# resolved beneath DEST without following symlinks, and files are written
# through directory descriptors: nothing may ever land outside DEST. Files hit
# by the race fail or land in the real directory; a calm run then converges.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"

setup_pair --mass-change-limit 100
mkdir -p "$SRC/d/sub" "$T/outside/sub"
for i in $(seq 1 400); do echo "file $i" >"$SRC/d/f$i"; echo "sub $i" >"$SRC/d/sub/g$i"; done
age "$SRC/d"/f* "$SRC/d/sub"/* "$SRC/d/sub" "$SRC/d"
# A first trip, so that DEST/d exists; then new versions of every file, to be
# delivered during the race.
expect_exit 0 barge load
expect_exit 0 barge unload
for i in $(seq 1 400); do echo "file $i v2" >"$SRC/d/f$i"; echo "sub $i v2" >"$SRC/d/sub/g$i"; done
age "$SRC/d"/f* "$SRC/d/sub"/* "$SRC/d/sub" "$SRC/d"
expect_exit 0 barge load
ln -s "$T/outside" "$DST/swap"

cat >"$T/race.py" <<'PY'
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
a, b, stop, started = (p.encode() for p in sys.argv[1:5])
n = 0
while not os.path.exists(stop):
    if libc.renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0:
        sys.exit("renameat2: " + os.strerror(ctypes.get_errno()))
    n += 1
    if n == 1:
        open(started, "w").close()
print(n)
PY
python3 "$T/race.py" "$DST/d" "$DST/swap" "$T/stop" "$T/started" >"$T/swaps" 2>"$T/race.err" &
racer=$!
on_exit "touch '$T/stop'; wait $racer"
# The race must be running when unload starts (a loaded machine may start
# python slower than unload finishes).
for _ in $(seq 1 200); do [[ -e $T/started ]] && break; sleep 0.05; done
[[ -e $T/started ]] || fail "the racer did not start in 10 s: $(cat "$T/race.err")"
rc=0
"$BARGE" unload >"$T/out" 2>"$T/err" || rc=$?
touch "$T/stop"
wait $racer || fail "the racer failed: $(cat "$T/race.err")"
swaps=$(cat "$T/swaps")
((swaps > 100)) || fail "only $swaps swaps happened: the race did not run"
[[ $rc -eq 0 || $rc -eq 3 ]] || fail "unload under the race exited $rc: $(cat "$T/err")"

# Nothing outside DEST, whatever happened.
[[ -z $(find "$T/outside" -mindepth 1 -not -path "$T/outside/sub") ]] ||
    fail "files were written outside DEST: $(find "$T/outside" -mindepth 1 | head)"

# Calm again: the real directory back at its name, the symlink gone; converge.
[[ -L $DST/d ]] && python3 -c 'import ctypes,sys; ctypes.CDLL(None).renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)' "$DST/d" "$DST/swap"
[[ -d $DST/d && ! -L $DST/d && -L $DST/swap ]] || fail "could not restore the directory after the race"
rm "$DST/swap"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the race"
echo "ok ($swaps swaps; first unload exited $rc)"
