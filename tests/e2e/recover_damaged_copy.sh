#!/usr/bin/env bash
# recover with a copy whose only damage is in a free page (docs/recovery.md):
# the open's checks never read a free page, so the copy is chosen, and the
# damage is found as it is copied, page by page. The drive's own catalog must
# still be in place then: recover once set it aside first, and the drive was
# left with no catalog at all ("not a barge drive; run 'barge init'").
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed (it finds a free page)"

setup_pair --on-delete trash --mass-change-limit 100
for i in $(seq 1 3000); do echo "file $i" >"$SRC/f$i"; done
age "$SRC"/f*
id=$(sql "SELECT value FROM meta WHERE key = 'drive_id'")
expect_exit 0 barge load
expect_exit 0 barge unload
cp "$DRIVE/barge.db" "$T/older.db" # intact, and older than the copies made below
for i in $(seq 1 2500); do rm "$SRC/f$i"; done
expect_exit 0 barge load
expect_exit 0 barge unload
copy=$DST/.barge/catalog-$id.db
# The first leaf of the copy's free list (the header's trunk page, its first entry).
leaf=$(python3 - "$copy" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
size = struct.unpack('>H', d[16:18])[0]
trunk = struct.unpack('>I', d[32:36])[0]
off = (trunk - 1) * size
leaves = struct.unpack('>I', d[off + 4:off + 8])[0]
print(struct.unpack('>I', d[off + 8:off + 12])[0] if trunk and leaves else 0)
PY
)
((leaf > 0)) || fail "the copy has no free page to damage"
flip_byte "$copy" $(((leaf - 1) * 4096 + 1000))

cp "$T/older.db" "$DRIVE/barge.db"
rm -f "$DRIVE/barge.db.pages"
ls -A "$DRIVE" >"$T/before"
expect_exit 1 barge recover "$DST"
grep -qF "page $leaf fails its checksum" "$T/err" || fail "recover does not name the damaged page: $(cat "$T/err")"
cmp -s "$T/older.db" "$DRIVE/barge.db" || fail "the drive's own catalog is gone or changed after the failed recover"
expect_eq "$(cat "$T/before")" "$(ls -A "$DRIVE")" "the drive's files after the failed recover"
# The source's copy is whole: recover from it, and the cycle goes on.
expect_exit 0 barge --json recover "$SRC"
expect_eq "$SRC/.barge/catalog-$id.db" "$(json .recovered_from)" "the copy recovered from"
[[ -f $(json .set_aside) ]] || fail "the older catalog was not kept beside"
echo "file 1 again" >"$SRC/f1"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after recovering from the source's copy"
echo ok
