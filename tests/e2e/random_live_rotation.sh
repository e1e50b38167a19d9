#!/usr/bin/env bash
# random_live_source.sh with two drives in rotation, the first encrypted, each
# round's load kept to a --max-bytes of 64 KiB to 1 MiB, each scan to a
# --max-time of 10 to 90 ms, and a scan or a load killed in every other turn
# of the drives: the second drive joins a pair whose source never stops
# changing, learns from sealed catalog copies, and scans and loads stop part
# way through a changing tree, by their limit or by a kill.
# BARGE_LIVE_SEED and _ROUNDS as there.
BARGE_LIVE_DRIVES=2 BARGE_LIVE_ENCRYPT=1 BARGE_LIVE_PARTIAL=1 BARGE_LIVE_BUDGET=1 BARGE_LIVE_KILLS=1 \
    exec bash "$(dirname "$0")/random_live_source.sh"
