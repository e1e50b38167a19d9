#!/usr/bin/env bash
# An exFAT drive (exfat-fuse on a loop image): names exFAT forbids or folds
# (a:b, what?, trailing dot, Foo and foo) travel, since only hashes touch the drive.
source "$(dirname "$0")/lib.sh"
exfat_mount mnt
DRIVE=$T/mnt/barge
export BARGE_DRIVE=$DRIVE

mkdir -p "$SRC/dir:colon"
for n in 'a:b' 'what?' 'trailing.' 'trailing ' 'Foo' 'foo' 'star*' 'pipe|' 'quote"' 'lt<gt>' 'back\slash'; do
    printf '%s' "content of $n" >"$SRC/dir:colon/$n"
done
head -c 5M /dev/urandom >"$SRC/big.bin"
ln -s 'a:b' "$SRC/dir:colon/link"
find "$SRC" -exec touch -h -d '2024-01-01 10:00:00.5' {} +

barge init "$DRIVE" --piece-size 1M >/dev/null
barge pair add p "$SRC" "$DST" --reserve 1M >/dev/null
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].waiting.files')" "everything fits"
expect_exit 0 barge unload --json
expect_same_tree "$SRC" "$DST" "through an exFAT drive"
[[ -z $(ls "$DRIVE/cargo/tmp") ]] || fail "temporary files left on the drive"
[[ ! -e "$DRIVE/barge.db-journal" ]] || fail "journal left next to the catalog"
echo ok
