#!/usr/bin/env bash
# random_history.sh with extended attributes, POSIX ACLs (default ACLs on
# directories too) and sparse files among the changes, and each round's
# comparison covering them: every entry's attributes and ACL, every file's
# holes. BARGE_HISTORY_SEED and _ROUNDS as there.
BARGE_HISTORY_FIDELITY=1 exec bash "$(dirname "$0")/random_history.sh"
