#!/usr/bin/env bash
# random_rotation.sh with the two sites apart: each load runs out of the
# destination's sight and each unload out of the source's, so drives learn of
# each other only through the catalog copies at the site they visit, as they
# do when the destination is offsite. BARGE_ROTATION_SEED, _ROUNDS and _DRIVES
# as there.
BARGE_ROTATION_APART=1 exec bash "$(dirname "$0")/random_rotation.sh"
