#!/usr/bin/env bash
# An encrypted drive (SPEC §10, §7.13): nothing on it reveals a name, a content or
# a digest of the source, in plain text or in the obvious encodings, even with a
# journal left by a killed run; the round trip is exact; a wrong or missing
# passphrase, a loose key file, and every tampering (a byte, swapped segments,
# swapped pieces, another drive's or a rolled-back catalog, the drive log) are
# refused or caught; cron runs on a saved key with no terminal; the passphrase
# can be changed.
source "$(dirname "$0")/lib.sh"

MARK=Zq7MarkerOfBarge
pass=$T/pass
printf 'correct horse battery\n' >"$pass"
# The cheapest Argon2id barge accepts: the test is about the formats, not the cost.
kdf=(--kdf-memory 8KiB --kdf-passes 1)

mkdir -p "$SRC"
expect_exit 0 barge init "$DRIVE" --piece-size 1M --encrypt --passphrase-file "$pass" "${kdf[@]}" --json
expect_eq true "$(json .encrypted)" "init says encrypted"
[[ -f $DRIVE/barge.key ]] || fail "no barge.key"
expect_exit 0 barge --passphrase-file "$pass" pair add p "$SRC" "$DST"
ls "$SRC/.barge/"drive-*.key >/dev/null || fail "no key saved at the source by pair add"
[[ $(stat -c %a "$SRC"/.barge/drive-*.key) == 600 ]] || fail "the saved key is not 0600"
grep -qx "$SRC" "$BARGE_STATE_DIR/endpoints" || fail "the source is not in the list of endpoints"

make_varied_tree "$SRC"
mkdir -p "$SRC/$MARK-dir"
for i in $(seq 1 40); do printf '%s line %d\n' "$MARK" "$i" >"$SRC/$MARK-dir/$MARK-$i.txt"; done
head -c 3000000 /dev/urandom >"$SRC/$MARK-dir/multi-piece.bin"
printf '%s' "$MARK" >>"$SRC/$MARK-dir/multi-piece.bin"
# An extended attribute travels in the catalog: its name and value must not show.
attrs=
if command -v setfattr >/dev/null &&
    setfattr -n "user.$MARK" -v "$MARK-value" "$SRC/$MARK-dir/$MARK-1.txt" 2>/dev/null; then
    attrs=1
fi
age "$SRC/$MARK-dir" "$SRC/$MARK-dir"/*

# Every encoding of a secret the drive must not hold, as hex of bytes.
hex_of() { od -An -tx1 -v | tr -d ' \n'; }
needles=()
add_needle() { # TEXT: the text, UTF-16 both ways, its hex (both cases), base64 at each alignment
    local s=$1 b
    needles+=("$(printf '%s' "$s" | hex_of)")
    needles+=("$(printf '%s' "$s" | iconv -f ascii -t utf-16le | hex_of)")
    needles+=("$(printf '%s' "$s" | iconv -f ascii -t utf-16be | hex_of)")
    needles+=("$(printf '%s' "$s" | hex_of | tr -d '\n' | hex_of)")
    needles+=("$(printf '%s' "$s" | hex_of | tr 'a-f' 'A-F' | hex_of)")
    for pre in "" "x" "xy"; do
        b=$(printf '%s%s' "$pre" "$s" | base64 -w0 | tr -d '=')
        b=${b:4:16} # the part that depends on the text alone
        needles+=("$(printf '%s' "$b" | hex_of)")
    done
}
add_needle "$MARK"
add_needle "photos/2024"
add_needle "readme.txt"
# The BLAKE2b-512 of every source file, as text and as raw bytes: a piece name or a
# catalog field that is a plain digest would confirm that the drive carries a file.
while IFS= read -r -d '' f; do
    d=$(b2sum <"$f" | cut -c1-128)
    needles+=("$(printf '%s' "$d" | hex_of)" "$d")
done < <(find "$SRC" -path "$SRC/.barge" -prune -o -type f -size +0 -print0)

search_drive() { # WHEN: fails if any needle is in any file or name under the drive
    # One perl over every file: the hex of its path and bytes, searched for each
    # needle (a shell loop per file and needle took most of this scenario's time).
    local files
    files=$(find "$DRIVE" -type f -print0 | perl -0 -e '
        my ($when, $drive, @needles) = @ARGV;
        my $files = 0;
        while (defined(my $f = <STDIN>)) {
            chomp $f;
            $files++;
            open(my $in, "<:raw", $f) or die "$f: $!\n";
            defined(my $bytes = do { local $/; <$in> }) or die "$f: $!\n";
            my $h = unpack("H*", $f . $bytes);
            for my $n (@needles) {
                next if index($h, $n) < 0;
                (my $rel = $f) =~ s{^\Q$drive\E/}{};
                print STDERR "FAIL: $when: '"'"'$rel'"'"' holds a secret (hex $n)\n";
                exit 1;
            }
        }
        print "$files\n";' "$1" "$DRIVE" "${needles[@]}") || exit 1
    [[ $files -ge 4 ]] || fail "$1: only $files files searched"
}

# A load killed in the middle of a catalog transaction leaves a hot journal: its
# page images must be sealed too.
if command -v strace >/dev/null; then
    no_leak_check_under_strace
    rc=0
    strace -f -qq -o /dev/null -e trace=fsync -e inject=fsync:signal=KILL:when=2 \
        "$BARGE" load >/dev/null 2>&1 || rc=$?
    [[ $rc -eq 137 ]] || echo "the kill point did not fire (rc $rc)" >&2
    ls "$DRIVE"/barge.db-journal >/dev/null 2>&1 && echo "a journal was left: searched too"
    search_drive "after a killed load"
fi
expect_exit 0 barge load
expect_exit 0 barge load # nothing left: its catalog writes are searched too
search_drive "after the load"
expect_exit 0 barge verify-middle
n=$(find "$DRIVE/cargo" -type f -not -path "$DRIVE/cargo/tmp/*" | wc -l)
[[ $n -ge 5 ]] || { find "$DRIVE" >&2; fail "too few pieces ($n)"; }

# Round trip, then the destination's own copy of the catalog is sealed as well.
expect_exit 0 barge unload
MANIFEST_XATTRS=$attrs expect_same_tree "$SRC" "$DST" "round trip through an encrypted drive"
expect_exit 0 barge verify-destination
for f in "$SRC/.barge"/catalog-*.db "$DST/.barge"/catalog-*.db; do
    h=$(hex_of <"$f")
    [[ $h != *"$(printf '%s' "$MARK" | hex_of)"* ]] || fail "the endpoint copy $f is not sealed"
done
search_drive "after the unload"
expect_exit 0 barge log --drive-log -n 500
grep -q "catalog copy" "$T/out" || fail "the drive log does not read back"

# status while a barge works: the record it leaves in the lock is sealed, and
# status opens it with the key.
truncate -s 3G "$SRC/sparse-$MARK"
freeze_holder '^sealed ' scan
grep -q '^sealed ' "$DRIVE/barge.lock" || fail "the scan's record in the lock is not sealed"
search_drive "while a scan runs"
expect_exit 0 barge status --json
expect_eq scan "$(json .running.command)" "the running command, from the sealed record"
expect_eq p "$(json '.pairs[0].name')" "the pairs, from the sealed record"
kill_frozen
rm "$SRC/sparse-$MARK"

# Cron: no terminal, no passphrase, the key saved at the endpoints.
expect_exit 0 barge status --json </dev/null
expect_eq 0 "$(json '.pairs[0].failed.files')" "status through a saved key"
# A machine that knows no endpoint and has no passphrase: exit 2, saying what is missing.
BARGE_STATE_DIR=$T/elsewhere expect_exit 2 barge status </dev/null
grep -q "neither its key nor its passphrase" "$T/err" || fail "no reason given: $(cat "$T/err")"
# A wrong passphrase.
printf 'wrong horse\n' >"$T/wrong"
BARGE_STATE_DIR=$T/elsewhere expect_exit 2 barge --passphrase-file "$T/wrong" status
grep -q "wrong passphrase" "$T/err" || fail "no 'wrong passphrase': $(cat "$T/err")"
# $BARGE_PASSPHRASE_FILE, and --no-save-key leaves no key behind.
BARGE_STATE_DIR=$T/elsewhere BARGE_PASSPHRASE_FILE=$pass expect_exit 0 barge --no-save-key status
[[ ! -e $T/elsewhere/endpoints ]] || fail "--no-save-key recorded endpoints"
# A saved key open to others is never used: with another one at hand, a warning
# names it; alone, the run is refused (exit 2) naming it.
key=$(ls "$SRC/.barge/"drive-*.key)
dkey=$(ls "$DST/.barge/"drive-*.key)
chmod 644 "$key"
expect_exit 0 barge status </dev/null
grep -q "$key" "$T/err" || fail "the loose key file is not named: $(cat "$T/err")"
chmod 644 "$dkey"
expect_exit 2 barge status </dev/null
grep -q "$key" "$T/err" && grep -q "$dkey" "$T/err" || fail "the loose key files are not named: $(cat "$T/err")"
chmod 600 "$key" "$dkey"

# The passphrase changes; the old one no longer opens the drive.
printf 'new passphrase\n' >"$T/new"
expect_exit 0 barge --passphrase-file "$pass" passphrase change --new-passphrase-file "$T/new"
BARGE_STATE_DIR=$T/elsewhere expect_exit 2 barge --passphrase-file "$pass" --no-save-key status
grep -q "wrong passphrase" "$T/err" || fail "the old passphrase still works"
BARGE_STATE_DIR=$T/elsewhere expect_exit 0 barge --passphrase-file "$T/new" --no-save-key status
expect_exit 2 barge --passphrase-file "$T/wrong" passphrase change --new-passphrase-file "$pass"
grep -q "wrong passphrase" "$T/err" || fail "a change with the wrong passphrase"

# Tampering with pieces: a flipped byte, two segments swapped, two pieces swapped.
echo "second trip $MARK" >"$SRC/$MARK-dir/late.txt"
head -c 2500000 /dev/urandom >"$SRC/$MARK-dir/multi2.bin"
head -c 200000 /dev/urandom >"$SRC/$MARK-dir/one.bin"
head -c 200000 /dev/urandom >"$SRC/$MARK-dir/two.bin"
age "$SRC/$MARK-dir"/*
expect_exit 0 barge load
pieces_by_size() { find "$DRIVE/cargo" -type f -not -path "$DRIVE/cargo/tmp/*" -size "$1" | sort; }
mapfile -t big < <(pieces_by_size +1000k)
[[ ${#big[@]} -ge 2 ]] || fail "no full pieces on the cargo"
seg=65552 # a sealed 64 KiB segment
# a flipped byte in segment 3 of one piece
flip_byte "${big[0]}" $((24 + 3 * seg + 100))
# segments 1 and 2 of another swapped
dd if="${big[1]}" of="$T/s1" bs=1 skip=$((24 + seg)) count=$seg status=none
dd if="${big[1]}" of="$T/s2" bs=1 skip=$((24 + 2 * seg)) count=$seg status=none
dd if="$T/s2" of="${big[1]}" bs=1 seek=$((24 + seg)) conv=notrunc status=none
dd if="$T/s1" of="${big[1]}" bs=1 seek=$((24 + 2 * seg)) conv=notrunc status=none
# two pieces of the same size (one.bin's and two.bin's) swapped: each a valid
# piece, under the other's name
sz=$(( $(stat -c %s "$SRC/$MARK-dir/one.bin") + 24 + 16 * 4 ))
mapfile -t pair2 < <(find "$DRIVE/cargo" -type f -not -path "$DRIVE/cargo/tmp/*" -size "${sz}c")
[[ ${#pair2[@]} -eq 2 ]] || fail "no two pieces of $sz bytes to swap (${#pair2[@]})"
mv "${pair2[0]}" "$T/swap" && mv "${pair2[1]}" "${pair2[0]}" && mv "$T/swap" "${pair2[1]}"
expect_exit 4 barge verify-middle --json
expect_eq 4 "$(json .bad)" "bad pieces found by verify-middle"
[[ $(grep -o "does not authenticate" "$T/out" | wc -l) -ge 2 ]] || fail "no authentication failures: $(cat "$T/out")"
grep -q "does not match its BLAKE2b-512" "$T/out" || fail "swapped pieces not caught by their digest"
for f in "${big[0]}" "${big[1]}" "${pair2[0]}" "${pair2[1]}"; do
    [[ ! -e $f ]] || fail "a tampered piece is still on the cargo: $f"
done
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after tampered pieces were carried again"

# A tampered piece met by unload is never delivered.
echo "third $MARK" >"$SRC/$MARK-dir/third.txt"
age "$SRC/$MARK-dir/third.txt"
expect_exit 0 barge load
p=$(find "$DRIVE/cargo" -type f -not -path "$DRIVE/cargo/tmp/*" -printf '%T@ %p\n' | sort -n | tail -1 | cut -d' ' -f2)
[[ -n $p ]] || fail "no new piece"
flip_byte "$p" 30
expect_exit 3 barge unload
[[ ! -e $DST/$MARK-dir/third.txt ]] || fail "a tampered piece was delivered"
grep -q "corrupt" "$T/out" || fail "unload does not say corrupt: $(cat "$T/out")"

# The catalog: a rolled-back one (an older image) is refused where an endpoint
# saw a newer one; a flipped byte and another drive's catalog are refused.
cp "$DRIVE/barge.db" "$T/old.db"
expect_exit 0 barge load
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after the third trip"
cp "$DRIVE/barge.db" "$T/good.db"
cp "$T/old.db" "$DRIVE/barge.db"
rm -f "$DRIVE/barge.db.pages"
expect_exit 2 barge load
grep -q "older than what" "$T/err" || fail "a rolled-back catalog was not refused: $(cat "$T/err")"
cp "$T/good.db" "$DRIVE/barge.db"
flip_byte "$DRIVE/barge.db" $((4096 * 2 + 500))
expect_exit 1 barge load
grep -q "authenticate" "$T/err" || fail "a tampered catalog page was not refused: $(cat "$T/err")"
cp "$T/good.db" "$DRIVE/barge.db"
barge init "$T/other" --encrypt --passphrase-file "$pass" "${kdf[@]}" >/dev/null
cp "$T/other/barge.db" "$DRIVE/barge.db"
expect_exit 1 barge status
grep -q "authenticate" "$T/err" || fail "another drive's catalog was not refused: $(cat "$T/err")"
cp "$T/good.db" "$DRIVE/barge.db"
expect_exit 0 barge status

# A lost catalog and key file: recover rebuilds both from an endpoint, with the
# key saved there, or (elsewhere) with the passphrase; the copies stay sealed.
expect_exit 0 barge status --json
gen=$(json '.pairs[0].delivered.files')
mv "$DRIVE/barge.db" "$T/lost.db"
mv "$DRIVE/barge.key" "$T/lost.key"
expect_exit 2 barge status
expect_exit 0 barge recover "$DST"
[[ -f $DRIVE/barge.key ]] || fail "recover did not bring the key file back"
expect_exit 0 barge status --json
expect_eq "$gen" "$(json '.pairs[0].delivered.files')" "the recovered catalog"
rm "$DRIVE/barge.db" "$DRIVE/barge.key"
mv "$DST/.barge/"drive-*.key "$T/dst-saved.key"
BARGE_STATE_DIR=$T/elsewhere expect_exit 0 barge --passphrase-file "$T/new" --no-save-key recover "$DST"
BARGE_STATE_DIR=$T/elsewhere expect_exit 0 barge --passphrase-file "$T/new" --no-save-key status
mv "$T/dst-saved.key" "$DST/.barge/"
expect_exit 0 barge unload
expect_same_tree "$SRC" "$DST" "after recover"

# The drive log: a record changed does not read back.
log=$DRIVE/logs/barge.log.sealed
flip_byte "$log" 60
expect_exit 1 barge log --drive-log
grep -q "does not authenticate" "$T/err" || fail "a tampered drive log was read: $(cat "$T/err")"

# barge encrypt: a plain drive in use becomes an encrypted one, once its cargo is
# empty; an interrupted conversion (the key file beside the plain catalog) is
# refused until encrypt runs again, and then resumes with the same key.
P=$T/plain PSRC=$T/psrc PDST=$T/pdst
mkdir -p "$PSRC"
make_varied_tree "$PSRC"
barge init "$P" --piece-size 1M >/dev/null
barge -d "$P" pair add q "$PSRC" "$PDST" >/dev/null
expect_exit 0 barge -d "$P" load
expect_exit 2 barge -d "$P" --passphrase-file "$pass" encrypt "${kdf[@]}"
grep -q "on the cargo" "$T/err" || fail "encrypt with a full cargo: $(cat "$T/err")"
[[ ! -e $P/barge.key ]] || fail "a refused encrypt left a key file"
expect_exit 0 barge -d "$P" unload
expect_exit 0 barge -d "$P" dump-cargo --yes
cp "$P/barge.db" "$T/plain-before.db"
[[ -s $P/logs/barge.log ]] || fail "no plain drive log to remove"
if command -v strace >/dev/null; then
    no_leak_check_under_strace
    # A plain session killed after a commit leaves the catalog's journal, its
    # header zeroed (not hot) and plain page images after it: encrypt once left
    # it beside the sealed catalog, names in the clear.
    for n in 2 3 4 5 6 7 8; do
        echo "a change $n" >"$PSRC/docs/readme.txt"
        (strace -f -qq -o /dev/null -e trace=fsync,fdatasync -e inject=fsync,fdatasync:signal=KILL:when=$n \
            "$BARGE" -d "$P" scan >/dev/null 2>&1) 2>/dev/null || true
        [[ ! -s $P/barge.db-journal ]] || break
    done
    [[ -s $P/barge.db-journal ]] || fail "no killed scan left a journal to test with"
    grep -qaF readme.txt "$P/barge.db-journal" || fail "the journal holds no name to look for"
    # A plain file it cannot remove is an error naming it, not skipped in silence
    # (the drive then said encrypted, its plain log on it); a run again finishes.
    strace -f -qq -o /dev/null -P "$P/logs" -e trace=unlinkat -e inject=unlinkat:error=EIO \
        "$BARGE" -d "$P" --passphrase-file "$pass" encrypt "${kdf[@]}" >"$T/out" 2>"$T/err" &&
        fail "encrypt succeeded though it could not remove the plain log"
    grep -qF "cannot remove '$P/logs/barge.log', which the drive kept in the clear: Input/output error" "$T/err" ||
        fail "encrypt does not name the plain log it could not remove: $(cat "$T/err")"
    [[ ! -e $P/barge.db-journal ]] || fail "encrypt left the plain journal beside the sealed catalog"
    expect_exit 0 barge -d "$P" --passphrase-file "$pass" encrypt
    grep -q "already encrypted; 1 plain file" "$T/out" || fail "encrypt again after the failed removal: $(cat "$T/out")"
    if grep -rlaF readme.txt "$P" >"$T/in-the-clear"; then fail "names in the clear on the drive: $(cat "$T/in-the-clear")"; fi
else
    echo "strace is not installed: the plain journal and the failed removal are not checked" >&2
    expect_exit 0 barge -d "$P" --passphrase-file "$pass" encrypt "${kdf[@]}"
fi
[[ -f $P/barge.key && ! -e $P/logs/barge.log ]] || fail "encrypt left the plain log, or no key file"
cmp -s <(head -c 16 "$P/barge.db") <(printf 'SQLite format 3\0') && fail "the catalog is still plain"
: >"$P/logs/barge.1.log" # as if an interrupted conversion had left it
expect_exit 0 barge -d "$P" --passphrase-file "$pass" encrypt
grep -q "already encrypted; 1 plain file" "$T/out" || fail "encrypt twice: $(cat "$T/out")"
[[ ! -e $P/logs/barge.1.log ]] || fail "a second encrypt left a plain log"
cp "$P/barge.db" "$T/plain-after.db"
cp "$T/plain-before.db" "$P/barge.db" # as if the rename had not happened
rm -f "$P/barge.db.pages"
expect_exit 2 barge -d "$P" --passphrase-file "$pass" status
grep -q "interrupted 'barge encrypt'" "$T/err" || fail "a plain catalog beside a key file: $(cat "$T/err")"
expect_exit 0 barge -d "$P" --passphrase-file "$pass" encrypt
echo "changed after encrypt" >"$PSRC/docs/readme.txt"
age "$PSRC/docs/readme.txt"
expect_exit 0 barge -d "$P" --passphrase-file "$pass" load
expect_exit 0 barge -d "$P" unload
expect_same_tree "$PSRC" "$PDST" "a drive encrypted in place"
for f in "$PSRC/.barge"/catalog-*.db "$PDST/.barge"/catalog-*.db; do
    cmp -s <(head -c 16 "$f") <(printf 'SQLite format 3\0') && fail "the endpoint copy $f is still plain"
done
echo ok
