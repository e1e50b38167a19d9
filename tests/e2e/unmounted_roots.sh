#!/usr/bin/env bash
# Unmounted roots for real (issue 5, 8): in a private mount namespace, an empty
# file system (tmpfs) is mounted over the source and over the destination, as
# when a disk is not mounted at boot and its mount point shows through, or
# another disk got mounted there. barge refuses (exit 2), records nothing, and
# writes nothing into the wrong file system.
source "$(dirname "$0")/lib.sh"
need_root "mount namespaces"
command -v unshare >/dev/null || skip "unshare (util-linux) is not installed"
unshare -m true 2>/dev/null || skip "this kernel or container does not allow mount namespaces"

setup_pair --mass-change-limit 100
for i in 1 2 3; do echo "file $i" >"$SRC/f$i"; done
age "$SRC"/f*
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST"

# in_ns SCRIPT: runs SCRIPT (bash) in a new private mount namespace; the mounts
# it makes vanish with it.
in_ns() { unshare -m --propagation private bash -c "set -e; $1"; }

# --- An empty file system over the source. ---
cp "$DRIVE/barge.db" "$T/before.db"
rc=0
in_ns "mount -t tmpfs barge-test '$SRC'; '$BARGE' -d '$DRIVE' load >'$T/out' 2>'$T/err'" || rc=$?
expect_eq 2 "$rc" "load over an empty file system mounted on the source"
grep -q "marker" "$T/err" || fail "the refusal does not say why: $(cat "$T/err")"
cmp -s "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed: an unmounted source read as deletions?"
rc=0
in_ns "mount -t tmpfs barge-test '$SRC'; '$BARGE' -d '$DRIVE' scan >/dev/null 2>&1" || rc=$?
expect_eq 2 "$rc" "scan over an empty source"
cmp -s "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed on a refused scan"

# The same files on the other file system, but not its marker: still refused.
rc=0
in_ns "mount -t tmpfs barge-test '$SRC'; cp -a '$T/before.db' '$SRC/'; echo x >'$SRC/f1'; '$BARGE' -d '$DRIVE' load >/dev/null 2>&1" || rc=$?
expect_eq 2 "$rc" "load over another file system with files but no marker"
cmp -s "$DRIVE/barge.db" "$T/before.db" || fail "the catalog changed (source without marker)"

# --- An empty file system over the destination. ---
echo "file 4" >"$SRC/f4"
age "$SRC/f4"
expect_exit 0 barge load
cp "$DRIVE/barge.db" "$T/before-unload.db"
rc=0
in_ns "mount -t tmpfs barge-test '$DST'; '$BARGE' -d '$DRIVE' unload >'$T/out' 2>'$T/err' || echo \$? >'$T/rc'; find '$DST' -mindepth 1 >'$T/written'"
rc=$(cat "$T/rc" 2>/dev/null || echo 0)
expect_eq 2 "$rc" "unload into an empty file system mounted on the destination"
[[ ! -s $T/written ]] || fail "barge wrote into the wrong file system: $(cat "$T/written")"
in_ns "mount -t tmpfs barge-test '$DST'; '$BARGE' -d '$DRIVE' run --yes >/dev/null 2>&1 || true; find '$DST' -mindepth 1 >'$T/written'"
[[ ! -s $T/written ]] || fail "run --yes claimed the wrong file system: $(cat "$T/written")"
expect_exit 0 barge status --json
expect_eq 1 "$(json '.pairs[0].on_cargo.files')" "f4 still waits on the cargo"

# The real destination is back: the delivery happens there.
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the destination came back"
echo ok
