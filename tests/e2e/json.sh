#!/usr/bin/env bash
# --json prints exactly one JSON document on stdout for every command, and each
# document has every field docs/json.md lists for it, with the documented type.
# The schemas are read from docs/json.md itself, so the doc cannot drift from
# the program without this test failing.
source "$(dirname "$0")/lib.sh"
doc=$(cd "$(dirname "$0")/../.." && pwd)/docs/json.md

# schema NAME: the "PATH TYPE" lines of the ```schema NAME block.
schema() {
    awk -v name="$1" '$0 == "```schema " name {on = 1; next} on && /^```/ {exit} on {print}' "$doc"
}

checked=0
# check NAME FILE: every path of the schema is present, with its type.
check() {
    local name=$1 file=$2 path type lines=0
    jq -e . "$file" >/dev/null 2>&1 || fail "$name: stdout is not one JSON document: $(head -c 300 "$file")"
    [[ $(jq -c . "$file" | wc -l) -eq 1 ]] || fail "$name: more than one JSON document on stdout"
    while read -r path type; do
        lines=$((lines + 1))
        local want=${type%\?} nullable=false
        [[ $type == *\? ]] && nullable=true
        local types
        types=$(jq -r "[$path | type] | unique | join(\",\")" "$file" 2>/dev/null) ||
            fail "$name: jq cannot evaluate $path"
        [[ -n $types ]] || fail "$name: $path is missing from $(head -c 400 "$file")"
        local t
        for t in ${types//,/ }; do
            [[ $t == "$want" || ($nullable == true && $t == null) ]] ||
                fail "$name: $path is $t, docs/json.md says $type"
        done
    done < <(schema "$name")
    ((lines > 0)) || fail "docs/json.md has no schema block for $name"
    checked=$((checked + 1))
}

# run_json NAME EXPECTED_EXIT ARGS...: runs barge --json ARGS and checks NAME.
run_json() {
    local name=$1 code=$2
    shift 2
    expect_exit "$code" barge --json "$@"
    check "$name" "$T/out"
}

mkdir -p "$SRC/a" "$SRC/b"
echo one >"$SRC/a/one"
printf 'two\n' >"$SRC/b/two"
ln -s one "$SRC/a/link"
age "$SRC/a/one" "$SRC/b/two"

run_json init 0 init "$DRIVE" --piece-size 1M
run_json pair-add 0 pair add p "$SRC" "$DST" --exclude '*.tmp' --on-delete trash
run_json pair-list 0 pair list
expect_exit 0 barge --json status # before any run: every last_runs entry is null
expect_eq "null null" "$(json '[.last_runs.load, .last_runs.verify_middle] | map(tostring) | join(" ")')" \
    "last runs before any run"
run_json scan 0 scan
run_json load-dry-run 0 load --dry-run
run_json load 0 load
run_json unload 0 unload --dry-run
run_json unload 0 unload
run_json verify-destination 0 verify-destination
run_json verify-middle 0 verify-middle
run_json status 0 status
expect_eq 3 "$(json ".pairs[0].delivered.files")" "delivered files and symlinks in status"
run_json drive-list 0 drive list
run_json log 0 log -n 5
run_json dump-cargo 0 dump-cargo --yes
# run from the source side (the destination hidden): a load.
mv "$DST/.barge" "$T/hidden-barge"
run_json run 0 run
mv "$T/hidden-barge" "$DST/.barge"
if [[ -n ${BARGE_STATIC_BINARY:-} ]]; then
    run_json install-binary 0 install-binary --from "$BARGE_STATIC_BINARY"
fi
# Errors still give one document, with the same exit code as without --json.
run_json error 2 status nosuch
expect_eq 2 "$(json .exit_code)" "exit_code of an unknown pair"
[[ $(json .error) == *nosuch* ]] || fail "the error does not name the pair: $(json .error)"
run_json error 2 -d "$T/not-a-drive" status
mkdir "$T/newdrive"
run_json recover 0 -d "$T/newdrive" recover "$SRC"
# A second drive joins the pair, learns of the first, and declares it lost.
barge init "$T/second" >/dev/null
run_json pair-add 0 -d "$T/second" pair add p2 "$SRC" "$DST"
expect_eq true "$(json .joined)" "the second drive joins the pair"
expect_exit 0 barge -d "$T/second" load
run_json drive-list 0 -d "$T/second" drive list
first=$(json '.pairs[0].drives[] | select(.this_drive | not) | .id')
[[ -n $first ]] || fail "the second drive does not know the first: $(cat "$T/out")"
run_json drive-lost 0 -d "$T/second" drive lost "${first:0:8}"
expect_eq "$first" "$(json .drive)" "drive lost names the drive"
run_json pair-remove 0 pair remove p --yes
run_json drive-log 0 log --drive-log -n 3
# An encrypted drive: init, the passphrase changed, a plain drive encrypted.
printf 'one passphrase\n' >"$T/p1"
printf 'another one\n' >"$T/p2"
run_json init 0 --passphrase-file "$T/p1" init "$T/enc" --encrypt --kdf-memory 8KiB --kdf-passes 1
expect_eq true "$(json .encrypted)" "init --encrypt says so"
run_json passphrase-change 0 -d "$T/enc" --passphrase-file "$T/p1" passphrase change --new-passphrase-file "$T/p2"
expect_exit 0 barge -d "$T/enc" --passphrase-file "$T/p2" status # the new passphrase opens it
barge init "$T/plain" >/dev/null
run_json encrypt 0 -d "$T/plain" --passphrase-file "$T/p1" encrypt --kdf-memory 8KiB --kdf-passes 1

# Output that cannot be written (docs/json.md, "When stdout cannot be written"):
# said on stderr and exit 1, though the run did its work and recorded it.
loads() { barge -d "$T/second" --json log | jq '[.runs[] | select(.command == "load")] | length'; }
cargo_files() { barge -d "$T/second" --json status | jq '.pairs[0].on_cargo.files'; }
before=$(loads) cargo_before=$(cargo_files)
echo "loaded while stdout was full" >"$SRC/full-stdout.txt"
rc=0
barge -d "$T/second" --json load >/dev/full 2>"$T/err" || rc=$?
expect_eq 1 "$rc" "the exit of a load whose JSON document could not be written"
grep -Eq "(printing the JSON document|writing the output to stdout).*No space left on device" "$T/err" ||
    fail "the failed write is not said: $(cat "$T/err")"
expect_eq $((before + 1)) "$(loads)" "the load was recorded"
expect_eq $((cargo_before + 1)) "$(cargo_files)" "the new file is on the cargo"
rc=0
barge -d "$T/second" status >/dev/full 2>"$T/err" || rc=$?
expect_eq 1 "$rc" "the exit of a status whose text could not be written"
grep -q "writing the output to stdout: No space left on device" "$T/err" ||
    fail "the failed write of text is not said: $(cat "$T/err")"
# Help and the version go to stdout too.
for args in --help "help load" "load --help" --version; do
    rc=0
    # shellcheck disable=SC2086 # the words of args are the arguments
    barge $args >/dev/full 2>"$T/err" || rc=$?
    expect_eq 1 "$rc" "the exit of 'barge $args' whose text could not be written"
    grep -q "writing the output to stdout: No space left on device" "$T/err" ||
        fail "the failed write of 'barge $args' is not said: $(cat "$T/err")"
    expect_exit 0 barge $args
done

# Without --json, nothing on stdout parses as a document (text for humans).
expect_exit 0 barge log
! jq -e . "$T/out" >/dev/null 2>&1 || fail "text output of log parsed as JSON"
echo "ok ($checked documents checked against docs/json.md)"
