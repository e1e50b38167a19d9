#!/usr/bin/env bash
# init, drive discovery, pair add/list/remove with every option, and the usage
# errors (exit 2) that name what is wrong.
source "$(dirname "$0")/lib.sh"
unset BARGE_DRIVE

mkdir -p "$SRC" "$T/work"
expect_exit 0 barge init "$DRIVE" --piece-size 2M --json
expect_eq 2097152 "$(json '.piece_size')" "piece size"
[[ -f $DRIVE/barge.db && -d $DRIVE/cargo && -d $DRIVE/logs ]] || fail "drive layout incomplete"
expect_exit 2 barge init "$DRIVE"
grep -q "already" "$T/err" || fail "re-init does not say why"
expect_exit 2 barge init "$T/no/such/parent" # a refusal: the drive is probably not mounted
grep -q "no/such/parent" "$T/err" || fail "init into a missing parent does not name it"

# Default piece size: 1 GiB, or 1/16 of the drive when smaller.
mkdir "$T/d2"
expect_exit 0 barge init "$T/d2" --json
cap=$(json '.capacity_bytes')
want=$(( cap / 16 < 1073741824 ? cap / 16 : 1073741824 ))
expect_eq "$want" "$(json '.piece_size')" "default piece size"

# Discovery: --drive, $BARGE_DRIVE, then the nearest ancestor holding barge.db.
expect_exit 2 barge status
grep -q "no barge drive found" "$T/err" || fail "no hint without a drive"
expect_exit 0 barge --drive "$DRIVE" status
expect_exit 0 env BARGE_DRIVE="$DRIVE" "$BARGE" status
mkdir -p "$DRIVE/logs/deep"
(cd "$DRIVE/logs/deep" && "$BARGE" status >/dev/null) || fail "discovery from inside the drive"
expect_exit 2 barge --drive "$T/work" status
grep -q "not a barge drive" "$T/err" || fail "a wrong --drive is not explained"

# pair add: relative paths become absolute; the same path for source and destination is fine.
cd "$T"
expect_exit 0 barge -d "$DRIVE" pair add photos src dst --exclude '*.tmp' --exclude 'cache/' \
    --reserve 5% --on-delete trash --retention 30 --mass-change-limit 10
expect_exit 0 barge -d "$DRIVE" pair add same "$SRC" "$SRC"
expect_exit 0 barge -d "$DRIVE" pair list --json
expect_eq "$SRC" "$(json '.pairs[] | select(.name=="photos") | .source')" "absolute source"
expect_eq "$T/dst" "$(json '.pairs[] | select(.name=="photos") | .dest')" "absolute dest"
expect_eq '*.tmp,cache/' "$(json '.pairs[] | select(.name=="photos") | .excludes | join(",")')" "excludes"
expect_eq '5%' "$(json '.pairs[] | select(.name=="photos") | .reserve')" "reserve"
expect_eq trash "$(json '.pairs[] | select(.name=="photos") | .on_delete')" "on-delete"
expect_eq 30 "$(json '.pairs[] | select(.name=="photos") | .retention_days')" "retention"
expect_eq 10 "$(json '.pairs[] | select(.name=="photos") | .mass_change_limit')" "mass-change limit"
expect_eq 1073741824 "$(json '.pairs[] | select(.name=="same") | .reserve')" "default reserve 1GiB"
expect_eq keep "$(json '.pairs[] | select(.name=="same") | .on_delete')" "default on-delete"
[[ $(ls "$SRC/.barge"/*.source | wc -l) -eq 2 ]] || fail "one marker per pair expected in SOURCE/.barge"

# Usage errors: exit 2 with the reason (another pair of this drive's
# destination, named with a trailing '/', or a directory inside it: refused).
mkdir -p "$T/src2"
for args in "pair add photos $SRC $DST:already exists" \
            "pair add x $SRC $DST --reserve 12Q:unknown unit" \
            "pair add x $SRC $DST --reserve 9000000T:'9000000T': too large" \
            "pair set photos --reserve 16000000T:'16000000T': too large" \
            "pair add x $SRC $DST --on-delete shred:keep or trash" \
            "pair add x $SRC $DST --exclude !keep:negation" \
            "pair add x $SRC $DST --mass-change-limit 101:percentage" \
            "pair add -x $SRC $DST:" \
            "pair add x $T/nope $DST:nope" \
            "pair add other $T/src2 $T/dst/:overlaps the destination '$T/dst' of pair 'photos' on this drive" \
            "pair add nested $T/src2 $T/dst/sub:overlaps the destination '$T/dst' of pair 'photos'" \
            "pair remove nosuch:unknown pair" \
            "scan nosuch:unknown pair" \
            "frobnicate:"; do
    cmd=${args%%:*}
    why=${args#*:}
    expect_exit 2 barge -d "$DRIVE" $cmd
    [[ -z $why ]] || grep -q -- "$why" "$T/err" || fail "'$cmd' does not say '$why': $(cat "$T/err")"
done

expect_exit 0 barge -d "$DRIVE" pair remove same
[[ $(ls "$SRC/.barge"/*.source | wc -l) -eq 1 ]] || fail "pair remove left its source marker"
expect_exit 0 barge -d "$DRIVE" pair list --json
expect_eq photos "$(json '[.pairs[].name] | join(",")')" "pairs after remove"

# A catalog from a newer barge is refused with exit 2.
sql_write "PRAGMA user_version = 99"
expect_exit 2 barge -d "$DRIVE" status
grep -q "newer barge" "$T/err" || fail "newer catalog not explained: $(cat "$T/err")"

expect_exit 0 barge --version
grep -q '^barge ' "$T/out" || fail "--version"
expect_exit 0 barge scan --help
grep -q 'Example' "$T/out" || fail "--help lacks an example"
echo ok
