#!/usr/bin/env bash
# A file whose bytes no longer match the hash an earlier scan recorded, while its
# size, mtime, ctime and inode are unchanged, is bit rot or a stealthy change:
# load says so loudly (exit 3, the file named), and carries neither version.
source "$(dirname "$0")/lib.sh"

setup_pair
echo "the original photo" >"$SRC/photo.jpg"
echo "another" >"$SRC/other.jpg"
age "$SRC"/*.jpg
expect_exit 0 barge scan

# A rewrite that keeps every stat field cannot be done from user space (ctime
# always moves), so plant its effect: the catalog's hash is of other bytes.
sql_write "INSERT INTO contents(hash, size) VALUES (randomblob(64), 19);
UPDATE entries SET content_id = last_insert_rowid(), racy = 0 WHERE name = CAST('photo.jpg' AS BLOB);"
expect_exit 3 barge load
grep -q "photo.jpg" "$T/out" || fail "the file is not named: $(cat "$T/out")"
grep -q "bit rot" "$T/out" || fail "the failure does not say bit rot: $(cat "$T/out")"
expect_exit 0 barge status --json
expect_eq 1 "$(json '.pairs[0].failed.files')" "counted as failed"
expect_eq 1 "$(json '.pairs[0].on_cargo.files')" "the healthy file went"
expect_exit 0 barge unload
[[ ! -e $DST/photo.jpg ]] || fail "the suspicious file was delivered"
[[ -f $DST/other.jpg ]] || fail "the healthy file was not delivered"
echo ok
