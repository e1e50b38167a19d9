#!/usr/bin/env bash
# random_rotation.sh with every second drive encrypted (B, D, ...) and the two
# sites apart, as when encrypted drives are carried offsite: sealed cargo and
# sealed catalog copies under kills, renames, links and late drives.
# BARGE_ROTATION_SEED, _ROUNDS and _DRIVES as there.
BARGE_ROTATION_ENCRYPT=1 BARGE_ROTATION_APART=1 exec bash "$(dirname "$0")/random_rotation.sh"
