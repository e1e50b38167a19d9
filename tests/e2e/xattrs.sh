#!/usr/bin/env bash
# Extended attributes, ACLs and special files (SPEC §6): user.* always,
# trusted.*, security.* and POSIX ACLs as root, on files, directories and
# special files; FIFOs and device nodes made again; sockets skipped with a
# note; a change of attributes alone is a change that carries no bytes
# (xattrs_exfat.sh: a destination that holds none).
source "$(dirname "$0")/lib.sh"
need_root "trusted.* attributes, file capabilities and device nodes"
for tool in getfattr setfattr getfacl setfacl setcap; do
    command -v $tool >/dev/null || skip "$tool is not installed (scripts/install-deps --test)"
done
mkdir -p "$T/probe"
setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null || skip "the file system of $T holds no user.* attributes"

setup_pair --on-delete trash --mass-change-limit 100
mkdir -p "$SRC/photos" "$SRC/shared" "$SRC/dev"
head -c 3000000 /dev/urandom >"$SRC/photos/big.raw"
setfattr -n user.xdg.tags -v holiday "$SRC/photos/big.raw"
setfattr -n user.checksum -v 0x00ff00ff "$SRC/photos/big.raw" # binary value
setfattr -n trusted.origin -v scanner "$SRC/photos/big.raw"
printf 'plan\n' >"$SRC/shared/plan.txt"
setfacl -m u:1234:rw,g:4321:r "$SRC/shared/plan.txt"
setfacl -d -m g:55:rx "$SRC/shared" # a default ACL: inherited by what is made inside
setfattr -n user.dir-note -v 'for the family' "$SRC/shared"
printf 'inherits\n' >"$SRC/shared/inherited.txt"
cp /bin/true "$SRC/ping-tool"
setcap cap_net_raw+ep "$SRC/ping-tool"
mkfifo -m 640 "$SRC/dev/pipe"
mknod -m 660 "$SRC/dev/null-like" c 1 3
mknod -m 600 "$SRC/dev/loop-like" b 7 200
ln -s photos/big.raw "$SRC/link"
python3 -c "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$SRC/dev/socket"
age "$SRC"/photos/* "$SRC"/shared/* "$SRC"/ping-tool "$SRC"/dev/*

same_tree() { MANIFEST_XATTRS=1 expect_same_tree "$SRC" "$DST" "$1"; }

expect_exit 0 barge load --json
expect_eq 1 "$(json '.pairs[0].scan.special_skipped')" "the socket is skipped"
expect_eq 1 "$(json '.pairs[0].scan.notes | map(select(test("dev/socket.*a socket"))) | length')" "a note names the socket"
expect_exit 0 barge unload --json
expect_eq 3 "$(json '.pairs[0].delivered.special_files')" "a FIFO and two devices"
[[ -p $DST/dev/pipe ]] || fail "the FIFO is not a FIFO at the destination"
[[ -c $DST/dev/null-like && -b $DST/dev/loop-like ]] || fail "the device nodes are not devices at the destination"
expect_eq "1:3" "$(stat -c '%t:%T' "$DST/dev/null-like")" "the character device's number"
expect_eq "7:c8" "$(stat -c '%t:%T' "$DST/dev/loop-like")" "the block device's number (hex)"
[[ ! -e $DST/dev/socket ]] || fail "a socket arrived"
expect_eq "holiday" "$(getfattr --only-values -n user.xdg.tags "$DST/photos/big.raw")" "a user attribute"
expect_eq "scanner" "$(getfattr --only-values -n trusted.origin "$DST/photos/big.raw")" "a trusted attribute"
getfacl -cp "$DST/shared/plan.txt" | grep -qx 'user:1234:rw-' || fail "the file's ACL is lost"
getfacl -cp "$DST/shared" | grep -qx 'default:group:55:r-x' || fail "the directory's default ACL is lost"
getcap "$DST/ping-tool" | grep -q cap_net_raw || fail "the file capability is lost: $(getcap "$DST/ping-tool")"
# Removed, its directory's mtime kept: the source equals the destination then.
dev_mtime=$(stat -c %y "$SRC/dev")
rm "$SRC/dev/socket"
touch -d "$dev_mtime" "$SRC/dev"
same_tree "after the first cycle"

# Empty the cargo: what follows must need none of its pieces.
expect_exit 0 barge dump-cargo --yes

# --- a change of attributes alone: seen by the scan (ctime), no bytes carried,
# restored on the destination's own copy (same inode, nothing in versions/).
big_ino=$(stat -c %i "$DST/photos/big.raw")
setfattr -n user.xdg.tags -v 'holiday,best' "$SRC/photos/big.raw"
setfattr -x trusted.origin "$SRC/photos/big.raw"
setfacl -x u:1234 "$SRC/shared/plan.txt"
setfattr -x user.dir-note "$SRC/shared"
chmod 600 "$SRC/ping-tool" # a mode alone is no reason to carry bytes either
setcap cap_net_raw+ep "$SRC/ping-tool" # chmod kept it; set again to be sure
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "metadata changes carry no bytes"
expect_eq 3 "$(json '.pairs[0].at_destination')" "three files' content is at the destination"
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].pending.files')" "nothing waits for a load"
expect_exit 0 barge unload --json
expect_eq 3 "$(json '.pairs[0].delivered.already_there')" "set on the destination's own copies"
expect_eq "$big_ino" "$(stat -c %i "$DST/photos/big.raw")" "the same inode"
[[ ! -e $DST/.barge/versions ]] || fail "a metadata change left a version: $(find "$DST/.barge/versions")"
getfattr -n trusted.origin "$DST/photos/big.raw" >/dev/null 2>&1 && fail "a removed attribute is still at the destination"
same_tree "after attribute changes"

# --- a change of owner alone reaches the destination too, with no bytes.
chown 1234:4321 "$SRC/photos/big.raw"
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "an owner change carries no bytes"
expect_exit 0 barge unload --json
expect_eq 1 "$(json '.pairs[0].delivered.already_there')" "set on the destination's own copy"
expect_eq "1234:4321" "$(stat -c %u:%g "$DST/photos/big.raw")" "the new owner"
same_tree "after an owner change"

# --- a catalog whose entries' attributes were never read (as one migrated from
# schema 3 leaves them) reads them for every entry, changed or not, and the
# destination gets them back without a byte carried.
sql_write "UPDATE entries SET xattrs = NULL, d_xattrs = NULL; UPDATE pairs SET xattr_scope = NULL"
setfattr -x user.xdg.tags "$DST/photos/big.raw"
setfacl -b "$DST/shared/plan.txt"
setfattr -n user.dir-note -v 'for the family' "$SRC/shared"
setfattr -n user.dir-note -v 'for the family' "$DST/shared"
touch -r "$DST/photos" "$SRC/shared"
touch -r "$DST/photos" "$DST/shared"
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "no bytes for attributes read anew"
expect_eq "root" "$(sql "SELECT xattr_scope FROM pairs")" "the scope recorded once every entry was read"
expect_exit 0 barge unload
same_tree "after attributes were read for entries the catalog had without them"

# --- a scan that must read every entry's attributes (the catalog says a scan
# as a user made them) but stops early records no scope: the next reads all.
sql_write "UPDATE pairs SET xattr_scope = 'user'"
expect_exit 0 barge scan --max-time 0.000001s --json
expect_eq true "$(json '.pairs[0].stopped_early')" "the scan stopped early"
expect_eq "" "$(sql "SELECT xattr_scope FROM pairs")" "no scope recorded by a stopped scan that read in another"
expect_exit 0 barge scan
expect_eq "root" "$(sql "SELECT xattr_scope FROM pairs")" "the scope recorded by the next whole scan"

# --- special files change kind and number; a FIFO becomes a file and back.
rm "$SRC/dev/null-like" "$SRC/dev/pipe"
mknod -m 660 "$SRC/dev/null-like" c 1 5
printf 'now a file\n' >"$SRC/dev/pipe"
mkfifo "$SRC/photos/new-pipe"
age "$SRC"/dev/* "$SRC"/photos/new-pipe
expect_exit 0 barge load
expect_exit 0 barge unload --json
expect_eq 2 "$(json '.pairs[0].delivered.special_files')" "the renumbered device and the new FIFO"
expect_eq "1:5" "$(stat -c '%t:%T' "$DST/dev/null-like")" "the new device number"
compgen -G "$DST/.barge/versions/*/dev/pipe" >/dev/null || fail "the replaced FIFO is not kept in versions/"
same_tree "after special files changed"

# --- nothing left to do: a second run changes nothing.
expect_exit 0 barge load --json
expect_eq 0 "$(json '.pairs[0].scan.modified + .pairs[0].scan.new')" "a rescan finds nothing new"
expect_exit 0 barge unload --json
expect_eq 0 "$(json '.pairs[0].delivered.files + .pairs[0].delivered.special_files')" "nothing delivered again"
expect_exit 0 barge verify-destination
expect_exit 0 barge status --json
expect_eq 0 "$(json '.pairs[0].on_cargo.files + .pairs[0].pending.files + .pairs[0].failed.files')" "nothing left"
echo "PASS"
