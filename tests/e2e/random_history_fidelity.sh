#!/usr/bin/env bash
# random_history.sh with extended attributes, POSIX ACLs (default ACLs on
# directories too) and sparse files among the changes, and each round's
# comparison covering them: every entry's attributes and ACL, every file's
# holes. BARGE_HISTORY_SEED as there; 10 rounds unless BARGE_HISTORY_ROUNDS
# says otherwise: that comparison runs getfattr, getfacl and xfs_io once per
# entry, and 10 rounds take about 28 s where random_history.sh's 24 take 17.
BARGE_HISTORY_FIDELITY=1 BARGE_HISTORY_ROUNDS=${BARGE_HISTORY_ROUNDS:-10} exec bash "$(dirname "$0")/random_history.sh"
