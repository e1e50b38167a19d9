#!/usr/bin/env bash
# A damaged cargo (issue 5, 4): a piece with a flipped bit, truncated,
# zero-filled, deleted, or replaced by another valid piece is caught by
# verify-middle (exit 4, the file named) and by unload (exit 3, never
# delivered), removed, and carried again by the next load.
source "$(dirname "$0")/lib.sh"

PIECE_SIZE=64K setup_pair --mass-change-limit 100
mkdir -p "$SRC/d"
for name in victim other; do head -c 150000 /dev/urandom >"$SRC/d/$name.bin"; done
age "$SRC/d"/*

# piece_of FILE: the path of the first piece of FILE's content on the cargo.
piece_of() {
    local hash
    hash=$(sql "SELECT hex(p.hash) FROM entries e JOIN content_pieces cp ON cp.content_id = e.content_id
                JOIN pieces p ON p.id = cp.piece_id WHERE e.name = CAST('$1' AS BLOB) AND cp.idx = 0")
    hash=${hash,,}
    echo "$DRIVE/cargo/${hash:0:2}/$hash"
}

damage() { # KIND PIECE
    local p=$2
    case $1 in
    flip) flip_byte "$p" 777 ;;
    truncate) truncate -s 1000 "$p" ;;
    zero) dd if=/dev/zero of="$p" bs=65536 count=1 conv=notrunc status=none ;;
    delete) rm "$p" ;;
    swap) cp "$(piece_of other.bin)" "$p" ;; # a valid piece, of the wrong content
    esac
}

for kind in flip truncate zero delete swap; do
    expect_exit 0 barge load
    expect_exit 0 barge unload
    echo "$kind" >>"$SRC/d/victim.bin" # a new version to carry
    age "$SRC/d/victim.bin"
    expect_exit 0 barge load

    # verify-middle catches it...
    damage $kind "$(piece_of victim.bin)"
    expect_exit 4 barge verify-middle
    grep -q "victim.bin" "$T/out" || fail "$kind: verify-middle does not name the file: $(cat "$T/out")"
    expect_exit 0 barge load --json
    expect_eq 1 "$(json '.pairs[0].carried.files')" "$kind: carried again after verify-middle"

    # ...and so does unload, without verify-middle before it.
    damage $kind "$(piece_of victim.bin)"
    before=$(sha256sum "$DST/d/victim.bin")
    expect_exit 3 barge unload
    grep -q "victim.bin" "$T/out" || fail "$kind: unload does not name the file: $(cat "$T/out")"
    expect_eq "$before" "$(sha256sum "$DST/d/victim.bin")" "$kind: the damaged version reached the destination"
    [[ -z $(ls "$DST/.barge/staging") ]] || fail "$kind: staging not clean"
    expect_exit 0 barge load --json
    expect_eq 1 "$(json '.pairs[0].carried.files')" "$kind: carried again after unload"
    expect_exit 0 barge unload
    expect_same_tree "$SRC" "$DST" "after repairing a $kind piece"
done
echo ok
