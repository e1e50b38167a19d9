#!/usr/bin/env bash
# random_rotation.sh with each drive on its own real exFAT file system
# (exfat-fuse on a loop device), as most external drives come, and the two
# sites apart, as when the drives are carried offsite. Skips, saying why, where
# FUSE or a loop device is missing. BARGE_ROTATION_SEED, _ROUNDS and _DRIVES
# as there.
BARGE_ROTATION_EXFAT=1 BARGE_ROTATION_APART=1 exec bash "$(dirname "$0")/random_rotation.sh"
