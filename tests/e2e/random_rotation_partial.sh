#!/usr/bin/env bash
# random_rotation.sh with each random load limited by a random --max-bytes (1
# to 12 blocks of 4 KiB) and the two sites apart, as when the backlog is larger
# than a drive: files wait at the source over several trips and several drives
# while the source goes on changing and drives arrive late. Fails unless some
# load was kept back. BARGE_ROTATION_SEED, _ROUNDS and _DRIVES as there.
BARGE_ROTATION_PARTIAL=1 BARGE_ROTATION_APART=1 exec bash "$(dirname "$0")/random_rotation.sh"
