#!/usr/bin/env bash
# Extended attributes when barge does not run as root (SPEC §6): user.* travel,
# also on read-only files and directories (set before the mode takes the
# owner's write permission away); trusted.* is neither read nor needed.
source "$(dirname "$0")/lib.sh"
need_root "switching to an unprivileged user with setpriv"
for tool in setpriv setfattr getfattr; do
    command -v $tool >/dev/null || skip "$tool is not installed"
done
mkdir -p "$T/probe"
setfattr -n user.probe -v 1 "$T/probe" 2>/dev/null || skip "the file system of $T holds no user.* attributes"
# Everything the run touches belongs to the unprivileged user.
as_user() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
chmod 755 "$T"
as_user test -x "$BARGE" || skip "the unprivileged user cannot run $BARGE"

mkdir -p "$SRC/ro-dir" "$SRC/rw"
printf 'read only\n' >"$SRC/ro-dir/frozen.txt"
printf 'writable\n' >"$SRC/rw/open.txt"
setfattr -n user.tag -v frozen "$SRC/ro-dir/frozen.txt"
setfattr -n user.tag -v dir "$SRC/ro-dir"
setfattr -n user.tag -v open "$SRC/rw/open.txt"
setfattr -n trusted.root-only -v 1 "$SRC/rw/open.txt" # not carried without root
chmod 444 "$SRC/ro-dir/frozen.txt"
mkdir -p "$DRIVE" "$DST"
chown -R 65534:65534 "$SRC" "$DRIVE" "$DST"
chmod 555 "$SRC/ro-dir"
age "$SRC"/ro-dir/* "$SRC"/rw/* "$SRC/ro-dir" "$SRC/rw"

rmdir "$DRIVE" "$DST"
chown 65534:65534 "$T"
expect_exit 0 as_user "$BARGE" init "$DRIVE" --piece-size 1M
expect_exit 0 as_user "$BARGE" pair add p "$SRC" "$DST"
expect_exit 0 as_user "$BARGE" load
expect_eq "user" "$(sql "SELECT xattr_scope FROM pairs")" "the scope of a scan not run as root"
expect_exit 0 as_user "$BARGE" unload --json
expect_eq 0 "$(json '.pairs[0].notes | length')" "no note: every carried attribute was set"
expect_eq "frozen" "$(getfattr --only-values -n user.tag "$DST/ro-dir/frozen.txt")" "a read-only file's attribute"
expect_eq "dir" "$(getfattr --only-values -n user.tag "$DST/ro-dir")" "a read-only directory's attribute"
getfattr -n trusted.root-only "$DST/rw/open.txt" >/dev/null 2>&1 && fail "a trusted.* attribute travelled without root"
getfattr --absolute-names -d "$SRC/ro-dir/frozen.txt" "$SRC/rw/open.txt" "$SRC/ro-dir" 2>/dev/null | sed "s|$SRC||" >"$T/src.attrs"
getfattr --absolute-names -d "$DST/ro-dir/frozen.txt" "$DST/rw/open.txt" "$DST/ro-dir" 2>/dev/null | sed "s|$DST||" >"$T/dst.attrs"
cmp -s "$T/src.attrs" "$T/dst.attrs" || { diff "$T/src.attrs" "$T/dst.attrs" >&2; fail "user attributes differ"; }
expect_same_tree "$SRC" "$DST" "as an unprivileged user"

# A change of a read-only file's attribute alone: set on the destination's copy.
chmod 755 "$SRC/ro-dir"
chmod 644 "$SRC/ro-dir/frozen.txt"
setfattr -n user.tag -v thawed "$SRC/ro-dir/frozen.txt"
chmod 444 "$SRC/ro-dir/frozen.txt"
chmod 555 "$SRC/ro-dir"
touch -r "$SRC/rw" "$SRC/ro-dir"
expect_exit 0 as_user "$BARGE" load --json
expect_eq 0 "$(json '.pairs[0].carried.bytes')" "no bytes for an attribute"
expect_exit 0 as_user "$BARGE" unload --json
expect_eq 1 "$(json '.pairs[0].delivered.already_there')" "set on the read-only copy at the destination"
expect_eq "thawed" "$(getfattr --only-values -n user.tag "$DST/ro-dir/frozen.txt")" "the new value"
expect_same_tree "$SRC" "$DST" "after an attribute change on a read-only file"

# An unreadable directory while every entry's attributes must be read (as after
# a migration from schema 3): no scope recorded; once readable, they are read.
sql_write "UPDATE entries SET xattrs = NULL, d_xattrs = NULL; UPDATE pairs SET xattr_scope = NULL"
chmod 000 "$SRC/rw"
expect_exit 3 as_user "$BARGE" scan
expect_eq "" "$(sql "SELECT xattr_scope FROM pairs")" "no scope while a directory was unreadable"
chmod 755 "$SRC/rw"
touch -r "$SRC/ro-dir" "$SRC/rw"
expect_exit 0 as_user "$BARGE" scan
expect_eq "user" "$(sql "SELECT xattr_scope FROM pairs")" "the scope once every entry was read"
expect_eq 1 "$(sql "SELECT count(*) FROM entries WHERE CAST(name AS TEXT) = 'open.txt' AND xattrs IS NOT NULL")" \
    "the attributes of a file in the directory that was unreadable"

# A device node a scan as root recorded is not deleted by a scan without root.
mknod -m 600 "$SRC/rw/null-like" c 1 3
touch -r "$SRC/ro-dir" "$SRC/rw"
expect_exit 0 barge load
expect_exit 0 barge unload
[[ -c $DST/rw/null-like ]] || fail "the device did not arrive (root)"
chown -R 65534:65534 "$T" # what the root runs wrote
expect_exit 0 as_user "$BARGE" load --json
expect_eq 1 "$(json '.pairs[0].scan.special_skipped')" "the device skipped without root"
expect_eq 0 "$(json '.pairs[0].scan.deleted')" "and not taken for a deletion"
expect_exit 0 as_user "$BARGE" unload --json
expect_eq 0 "$(json '.pairs[0].trashed')" "nothing trashed"
[[ -c $DST/rw/null-like ]] || fail "a scan without root deleted the device at the destination"
echo ok
