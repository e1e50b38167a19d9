#!/usr/bin/env bash
# A new file on a reused inode is not a rename (docs/scan.md): a file deleted,
# and another written elsewhere with the same size and set to the same mtime
# (cp -p, tar, a photo importer), often gets the freed inode (ext4 hands it out
# again at once). Taking it for a rename gave it the old content's hash, and
# unload renamed the old bytes to the new name: a wrong file that
# verify-destination passed. The rename rule asks, besides inode, size and
# mtime, for a birth time no later than the old file's last ctime. Checked with
# one drive (the scan's rule), with a directory made again on reused inodes,
# and with a second drive that adopts what the first one hashed (the merge's
# rule); a real rename in the same run is still one.
source "$(dirname "$0")/lib.sh"
A=$T/driveA
B=$T/driveB
# The source on an ext4 file system of its own where root can mount one: no
# other test running beside this one takes the inodes it frees.
if [[ $(id -u) == 0 ]] && command -v mkfs.ext4 >/dev/null; then
    mkdir -p "$T/fs"
    truncate -s 64M "$T/fs.img"
    mkfs.ext4 -q -F -I 256 "$T/fs.img"
    if mount -o loop "$T/fs.img" "$T/fs" 2>/dev/null; then
        on_exit "umount -l '$T/fs'"
        SRC=$T/fs/src
    else
        echo "no loop mount here: the source is under $T, beside other tests" >&2
    fi
fi
ASIDE=$(dirname "$SRC")/aside
mkdir -p "$ASIDE"
[[ $(stat -c %W "$ASIDE") != 0 ]] || skip "the file system under $ASIDE keeps no birth times"

# reuse OLD NEW CHAR [GONE]: deletes OLD (or all of GONE, which holds it) and
# writes NEW with OLD's size (one byte CHAR repeated) and mtime, on OLD's inode;
# the writes that get another inode are set aside, out of the tree.
reuse() {
    local old=$1 new=$2 char=$3 gone=${4:-$1} ino size mtime i
    ino=$(stat -c %i "$old")
    size=$(stat -c %s "$old")
    mtime=$(stat -c %Y "$old")
    rm -r "$gone"
    mkdir -p "$(dirname "$new")"
    for i in $(seq 1 500); do
        head -c "$size" /dev/zero | tr '\0' "$char" >"$new"
        [[ $(stat -c %i "$new") != "$ino" ]] || break
        mv "$new" "$ASIDE/$i.$RANDOM"
    done
    [[ $(stat -c %i "$new") == "$ino" ]] || skip "the file system under $T did not reuse a freed inode in 500 files"
    touch -d "@$mtime" "$new"
}

# --- one drive: a deleted file's inode, size and mtime under a new name, and
# a real rename beside it.
setup_pair --on-delete trash --mass-change-limit 100
mkdir -p "$SRC/photos"
head -c 100 /dev/zero | tr '\0' a >"$SRC/photos/IMG_1.jpg"
head -c 100 /dev/zero | tr '\0' c >"$SRC/photos/IMG_2.jpg"
head -c 5000 /dev/urandom >"$SRC/photos/moved.jpg"
age "$SRC/photos"/*
expect_exit 0 barge load
expect_exit 0 barge unload
reuse "$SRC/photos/IMG_1.jpg" "$SRC/photos/IMG_3.jpg" b
mv "$SRC/photos/moved.jpg" "$SRC/moved.jpg"
expect_exit 0 barge load --json
expect_eq 1 "$(json '.pairs[0].scan.renamed')" "only the real rename is one"
expect_eq 1 "$(json '.pairs[0].scan.new')" "the file on the reused inode is new"
expect_eq 100 "$(json '.pairs[0].carried.bytes')" "its bytes are carried"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.renamed')" "the real rename is a rename at the destination"
expect_same_tree "$SRC" "$DST" "after a new file on a reused inode"
expect_exit 0 barge verify-destination

# --- a directory removed and made again under another name, its file on the
# reused inodes (the directory's own inode too, when the file system gives it).
mkdir -p "$SRC/2024/day"
head -c 300 /dev/zero | tr '\0' d >"$SRC/2024/day/a.txt"
age "$SRC/2024/day/a.txt" "$SRC/2024/day" "$SRC/2024"
expect_exit 0 barge load
expect_exit 0 barge unload
dir_ino=$(stat -c %i "$SRC/2024/day")
reuse "$SRC/2024/day/a.txt" "$SRC/2024/night/a.txt" e "$SRC/2024/day"
age "$SRC/2024/night" "$SRC/2024"
echo "the directory's inode: $dir_ino, then $(stat -c %i "$SRC/2024/night")" >&2
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].scan.renamed')" "no rename"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after a directory made again on reused inodes"
expect_exit 0 barge verify-destination

# --- two drives: B, joining, adopts the hashes A recorded at the source for
# inodes its own scan finds under other names.
rm -rf "$SRC" "$DST" "$DRIVE"
mkdir -p "$SRC"
mkdrive "$A"
mkdrive "$B"
head -c 100 /dev/zero | tr '\0' a >"$SRC/one"
head -c 4000 /dev/urandom >"$SRC/walks"
age "$SRC/one" "$SRC/walks"
expect_exit 0 barge -d "$A" pair add p "$SRC" "$DST" --on-delete trash --mass-change-limit 100
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
reuse "$SRC/one" "$SRC/two" b
mv "$SRC/walks" "$SRC/walked"
expect_exit 0 barge -d "$B" pair add p "$SRC" "$DST"
expect_exit 0 barge -d "$B" --json load
expect_eq 100 "$(json '.pairs[0].carried.bytes')" "B carries the file on the reused inode, and only it"
expect_exit 0 barge -d "$B" unload
expect_same_tree "$SRC" "$DST" "after B's trip"
expect_exit 0 barge -d "$B" verify-destination
expect_exit 0 barge -d "$A" load
expect_exit 0 barge -d "$A" unload
expect_same_tree "$SRC" "$DST" "after A's next trip"
expect_exit 0 barge -d "$A" verify-destination
echo ok
