#!/usr/bin/env bash
# random_history.sh on a real exFAT drive (random_history_exfat.sh) that has
# room for 48 KiB of pieces (BARGE_HISTORY_ROOM), far less than a round's
# changes: loads stop at "drive full", delivered pieces are reclaimed to make
# room, and each round makes trips until nothing waits, under the same kills
# and checks. Fails unless some trip found the drive full and some load
# reclaimed pieces. BARGE_HISTORY_SEED and _ROUNDS as there.
BARGE_HISTORY_EXFAT=1 BARGE_HISTORY_ROOM=${BARGE_HISTORY_ROOM:-49152} exec bash "$(dirname "$0")/random_history.sh"
