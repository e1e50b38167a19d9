#!/usr/bin/env bash
# Interrupting barge at any moment loses nothing (SPEC §7.3): SIGKILL at fixed
# points (the Nth syncfs, rename, fdatasync, through strace fault injection) and
# at random moments of load and of unload; after a normal run the destination
# equals the source, the catalog is intact and no temporary file is left.
source "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || skip "strace is not installed"
no_leak_check_under_strace

# 1 MiB pieces: the big files have a whole-block piece, which is re-read behind
# its writer (the io_submit points below), and a tail, re-read after the barrier.
PIECE_SIZE=1M setup_pair --on-delete trash
mkdir -p "$SRC/a" "$SRC/b" "$SRC/c/d"
for i in $(seq 1 300); do echo "small file $i" >"$SRC/a/s$i"; done
for i in $(seq 1 20); do echo "c file $i" >"$SRC/c/d/f$i"; done
for i in 1 2 3; do head -c 1500000 /dev/urandom >"$SRC/b/big$i"; done
find "$SRC" -exec touch -d '2024-01-01 10:00:00' {} +

# kill_at SYSCALL N COMMAND: SIGKILL barge at the Nth call of SYSCALL; counts
# in $killed the runs that really died there (a point past the last call kills nothing).
killed=0
kill_at() {
    local sc=$1 n=$2 rc=0
    shift 2
    { strace -f -qq -o /dev/null -e trace="$sc" -e inject="$sc":signal=KILL:when="$n" \
        "$BARGE" "$@" >/dev/null 2>&1; } 2>/dev/null || rc=$?
    if [[ $rc -eq 137 ]]; then killed=$((killed + 1)); else echo "fault point $sc $n ($*) did not fire" >&2; fi
}

# kill_after SECONDS COMMAND: SIGKILL barge after a delay.
kill_after() {
    local delay=$1
    shift
    "$BARGE" "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    { wait "$pid"; } 2>/dev/null || true
}

check_catalog() {
    sqlite3 "$DRIVE/barge.db" "PRAGMA integrity_check" | grep -qx ok || fail "catalog damaged ($1)"
}

points=0
# Points before the load's commit come first: a run that gets past its commit
# leaves less work for the points after it. "fsync N" lands inside SQLite's
# commits; "unlink 1" is the journal removed when the run releases the catalog.
for spec in "io_submit 1" "sync_file_range 2" "io_submit 3" "openat 30" "renameat 1" "pwrite64 3" "pwrite64 10" "renameat 40" "close 40" \
            "syncfs 1" "fdatasync 2" "fsync 1" "fsync 2" "pwrite64 30" "renameat 120" \
            "fdatasync 5" "fdatasync 8" "syncfs 2" "openat 300" "unlink 1"; do
    kill_at $spec load
    check_catalog "load killed at $spec"
    points=$((points + 1))
done
for d in 0.05 0.1 0.2 0.3 0.4; do
    kill_after $d load
    check_catalog "load killed after ${d}s"
    points=$((points + 1))
done
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].waiting.files')" "everything loaded after the interruptions"
[[ -z $(ls "$DRIVE/cargo/tmp") ]] || fail "temporary pieces left on the drive"

for spec in "mkdir 2" "mkdirat 1" "openat 20" "pwrite64 5" "syncfs 1" \
            "io_submit 1" "sync_file_range 2" "io_submit 3" "renameat2 1" \
            "renameat2 10" "renameat2 50" "fdatasync 1" "fdatasync 2" "fsync 1" "fsync 3" \
            "pwrite64 60" "close 100" "renameat2 200" "syncfs 2" "unlink 1"; do
    kill_at $spec unload
    check_catalog "unload killed at $spec"
    points=$((points + 1))
done
for d in 0.05 0.1 0.2 0.3; do
    kill_after $d unload
    check_catalog "unload killed after ${d}s"
    points=$((points + 1))
done
expect_exit 0 barge unload
((killed >= 34)) || fail "only $killed of the fixed fault points fired: the test lost its teeth"
expect_same_tree "$SRC" "$DST" "after $points interruptions"
[[ -z $(ls "$DST/.barge/staging") ]] || fail "temporary files left in staging: $(ls "$DST/.barge/staging")"
if find "$DST" -path "$DST/.barge" -prune -o -name 'tmp-*' -print | grep -q .; then
    fail "a temporary file stands at a final name"
fi

# A second cycle with changes, interrupted too, still converges.
echo changed >"$SRC/a/s1"
rm "$SRC/a/s2"
mv "$SRC/b/big1" "$SRC/b/big1-renamed"
mv "$SRC/c" "$SRC/c-renamed" # a directory rename: one renameat2 at the destination
touch -d '2024-02-01' "$SRC/a/s1" "$SRC/a" "$SRC/b"
kill_at syncfs 2 load
expect_exit 0 barge load
kill_at renameat2 1 unload # before the directory's rename
kill_at syncfs 1 unload    # after it, before its commit
kill_at renameat2 1 unload # before the renamed file's rename
kill_at syncfs 1 unload    # after it, before its commit
kill_at linkat 1 unload
kill_at renameat2 1 unload # before s1's exchange with its old version
kill_at renameat 1 unload  # before s2 moves to the trash
kill_at syncfs 3 unload
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after an interrupted second cycle"

# A third: a FIFO to make and an attribute alone changed, interrupted while the
# attribute is set on the destination's copy (files come first), before the
# FIFO is made, and at the next barrier.
mkfifo "$SRC/a/pipe"
attrs=
if command -v setfattr >/dev/null && setfattr -n user.k -v v "$SRC/b/big2" 2>/dev/null; then
    attrs=1
fi
touch -d '2024-03-01' "$SRC/a/pipe" "$SRC/a"
expect_exit 0 barge load
before=$killed
if [[ -n $attrs ]]; then kill_at fsetxattr 1 unload; fi
kill_at mknodat 1 unload
kill_at syncfs 1 unload
((killed - before >= 2)) || fail "the third cycle's fault points did not fire"
expect_exit 0 barge unload
[[ -p $DST/a/pipe ]] || fail "the FIFO did not arrive after the interruptions"
MANIFEST_XATTRS=$attrs expect_same_tree "$SRC" "$DST" "after an interrupted third cycle"
[[ -z $(ls "$DST/.barge/staging") ]] || fail "temporary files left in staging: $(ls "$DST/.barge/staging")"
# After a clean run the catalog is one self-contained file again, whatever
# journal a killed run left next to it.
[[ ! -e "$DRIVE/barge.db-journal" ]] || fail "journal left next to the catalog after a clean run"
check_catalog "end"
echo "ok ($points interruption points, $killed fixed points fired)"
