#!/usr/bin/env bash
# The examples work as shipped: the two-pair setup script sets up a drive whose
# pairs have the options it claims; the crontab line is a valid crontab entry;
# the systemd units pass `systemd-analyze verify` where systemd is available.
source "$(dirname "$0")/lib.sh"
examples=$(cd "$(dirname "$0")/../../examples" && pwd)

# two-pairs.sh against a temporary drive and directories.
bindir=$T/bin
mkdir -p "$bindir" "$T/mnt" "$T/photos" "$T/docs"
ln -s "$BARGE" "$bindir/barge"
echo hello >"$T/photos/a.jpg"
echo doc >"$T/docs/b.txt"
PATH=$bindir:$PATH PHOTOS=$T/photos PHOTOS_DEST=$T/dst/photos DOCS=$T/docs DOCS_DEST=$T/dst/docs \
    expect_exit 0 bash "$examples/two-pairs.sh" "$T/mnt"
expect_exit 0 barge -d "$T/mnt/barge" --json pair list
expect_eq "documents photos" "$(json '[.pairs[].name] | join(" ")')" "pairs made by two-pairs.sh"
expect_eq trash "$(json '.pairs[] | select(.name == "photos") | .on_delete')" "photos --on-delete"
expect_eq 180 "$(json '.pairs[] | select(.name == "photos") | .retention_days')" "photos --retention"
expect_eq 4 "$(json '.pairs[] | select(.name == "documents") | .excludes | length')" "documents excludes"
expect_eq 5% "$(json '.pairs[] | select(.name == "documents") | .reserve')" "documents reserve"

# The crontab line: five time fields, then a command naming barge load.
line=$(grep -v '^#' "$examples/crontab" | grep .)
[[ $(wc -l <<<"$line") -eq 1 ]] || fail "crontab example should hold one entry"
read -r m h dom mon dow cmd <<<"$line"
[[ $m =~ ^[0-9*]+$ && $h =~ ^[0-9*]+$ && $dom == '*' && $mon == '*' && $dow == '*' ]] ||
    fail "crontab time fields look wrong: $line"
[[ $cmd == *"barge load"* ]] || fail "crontab entry does not run barge load: $line"

# The barge commands the units run parse (--help of the same command line).
for unit in barge-load.service barge-unload.service; do
    exec_line=$(sed -n 's/^ExecStart=//p' "$examples/$unit")
    read -r -a words <<<"$exec_line"
    "$BARGE" "${words[@]:1}" --help >/dev/null || fail "$unit runs a command barge does not accept: $exec_line"
done
grep -q 'ENV{SYSTEMD_WANTS}+="barge-unload.service"' "$examples/99-barge.rules" ||
    fail "the udev rule does not start barge-unload.service"

if command -v systemd-analyze >/dev/null && [[ -d /run/systemd/system ]]; then
    # verify needs the ExecStart binary to exist: point the units at this barge.
    mkdir -p "$T/units"
    for f in barge-load.service barge-load.timer barge-unload.service; do
        sed "s#/usr/local/bin/barge#$BARGE#" "$examples/$f" >"$T/units/$f"
    done
    systemd-analyze verify "$T/units/barge-load.service" "$T/units/barge-load.timer" \
        "$T/units/barge-unload.service" 2>"$T/verify" || fail "systemd-analyze: $(cat "$T/verify")"
else
    echo "note: systemd is not running here; units checked by their ExecStart only" >&2
fi
echo ok
