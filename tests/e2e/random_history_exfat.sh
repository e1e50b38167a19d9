#!/usr/bin/env bash
# random_history.sh with the drive on a real exFAT file system (exfat-fuse on a
# loop device), as most external drives come, under the same changes and
# kills. Skips, saying why, where FUSE or a loop device is missing.
# BARGE_HISTORY_SEED and _ROUNDS as there.
BARGE_HISTORY_EXFAT=1 exec bash "$(dirname "$0")/random_history.sh"
