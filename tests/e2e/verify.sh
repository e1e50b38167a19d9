#!/usr/bin/env bash
# verify-destination and verify-middle catch a flipped byte, a truncated file and
# a missing file (exit 4, the name in the output), and the next trip repairs it.
source "$(dirname "$0")/lib.sh"

setup_pair --mass-change-limit 100
mkdir -p "$SRC/d"
for i in 1 2 3 4 5; do head -c 100000 /dev/urandom >"$SRC/d/f$i"; done
age "$SRC/d"/*
expect_exit 0 barge load
expect_exit 0 barge unload
expect_exit 0 barge verify-destination --json
expect_eq 5 "$(json '.pairs[0].checked')" "verified files"
expect_eq 0 "$(json '.pairs[0].bad')" "nothing bad yet"

# Damage the destination three ways.
flip_byte "$DST/d/f1" 500
truncate -s 50000 "$DST/d/f2"
rm "$DST/d/f3"
expect_exit 4 barge verify-destination
for f in f1 f2 f3; do grep -q "d/$f" "$T/out" || fail "verify-destination does not name $f: $(cat "$T/out")"; done
grep -q "missing" "$T/out" || fail "the missing file is not called missing"
# dump-cargo keeps the pieces the damaged files now need again...
expect_exit 0 barge dump-cargo --yes --json
expect_eq 2 "$(json '.removed_pieces')" "only the pieces of the healthy files are dumped"
# ...and with the cargo wiped by hand, the repair comes from the source.
rm -rf "$DRIVE"/cargo/??
expect_exit 0 barge load --json
expect_eq 3 "$(json '.pairs[0].carried.files')" "the three damaged files carried again"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the repair trip"
expect_exit 0 barge verify-destination

# --max-time stops early; the next run continues with the least recently verified.
expect_exit 0 barge verify-destination --max-time 0 --json
expect_eq true "$(json '.pairs[0].stopped_early')" "stopped by --max-time"
expect_exit 0 barge verify-destination --sample 40 --json
expect_eq 2 "$(json '.pairs[0].checked')" "--sample 40 of 5 files"
first=$(sqlite3 -readonly "$DRIVE/barge.db" "SELECT group_concat(CAST(name AS TEXT)) FROM (SELECT name FROM entries WHERE d_kind = 1 ORDER BY d_verified_ns DESC LIMIT 2)")
expect_exit 0 barge verify-destination --sample 40 --json
second=$(sqlite3 -readonly "$DRIVE/barge.db" "SELECT group_concat(CAST(name AS TEXT)) FROM (SELECT name FROM entries WHERE d_kind = 1 ORDER BY d_verified_ns DESC LIMIT 2)")
[[ $first != "$second" ]] || fail "the second sample re-verified the same files ($first)"

# verify-middle: pieces on the cargo, damaged three ways.
for i in 1 2 3; do head -c 100000 /dev/urandom >"$SRC/d/f$i"; done
age "$SRC/d"/*
expect_exit 0 barge load
expect_exit 0 barge verify-middle --json
expect_eq 0 "$(json '.bad')" "a healthy cargo"
piece() { local h; h=$(b2sum "$SRC/d/$1" | cut -d' ' -f1); echo "$DRIVE/cargo/${h:0:2}/$h"; }
flip_byte "$(piece f1)" 10
truncate -s 10 "$(piece f2)"
rm "$(piece f3)"
expect_exit 4 barge verify-middle
for f in f1 f2 f3; do grep -q "d/$f" "$T/out" || fail "verify-middle does not name $f: $(cat "$T/out")"; done
expect_exit 0 barge load --json
expect_eq 3 "$(json '.pairs[0].carried.files')" "pieces carried again after verify-middle"
expect_exit 0 barge verify-middle
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the cargo repair"

# A FIFO, or a device node, where a delivered file was: reported and queued,
# never read (the FIFO's open blocked verify-destination for ever, holding the
# drive lock; the device, /dev/zero's numbers, was read without end). A
# watchdog ends a run that hangs.
victim=$(cd "$DST" && find . -path ./.barge -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort | head -1)
[[ -n $victim ]] || fail "no delivered file to replace"
nodes=(fifo)
[[ $(id -u) != 0 ]] || nodes+=(chardev)
for node in "${nodes[@]}"; do
    mv "$DST/$victim" "$T/victim"
    if [[ $node == fifo ]]; then mkfifo "$DST/$victim"; else mknod "$DST/$victim" c 1 5; fi
    expect_exit 4 timeout 60 "$BARGE" verify-destination
    grep -qF "$DST/$victim: is not a regular file" "$T/out" "$T/err" ||
        fail "verify-destination does not report the $node at $victim: $(cat "$T/out" "$T/err")"
    rm "$DST/$victim"
    mv "$T/victim" "$DST/$victim"
    expect_exit 0 barge load
    expect_exit 0 barge unload
    expect_same_tree "$SRC" "$DST" "after the $node at $victim"
done

# A destination mounted read-only: verify-destination cannot take the order
# record's lock to learn what other drives did there; it checks with what the
# drive knows, says so, and exits 0 (as before it learned).
if [[ $(id -u) == 0 ]] && mount --bind "$DST" "$DST" 2>/dev/null; then
    on_exit "umount '$DST' 2>/dev/null"
    if mount -o remount,ro,bind "$DST" 2>/dev/null; then
        expect_exit 0 barge verify-destination
        grep -q "Read-only file system; checked with what this drive knows" "$T/err" ||
            fail "no warning about the read-only destination: $(cat "$T/err")"
    else
        echo "read-only destination part skipped: cannot remount read-only here" >&2
    fi
    umount "$DST"
else
    echo "read-only destination part skipped: needs root and bind mounts" >&2
fi
echo ok
