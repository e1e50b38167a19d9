#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/util/error.hpp"

#include <cstdint>

namespace barge {

// Whether a pair's destination can be written here (SPEC §4).
enum class DestState {
    visible,     // its marker is there
    claimable,   // never claimed, and its parent directory exists
    not_visible, // claimed but the marker is gone, or the parent is missing
};
DestState dest_state(const Pair& pair);
// The refusal for a claimed destination whose marker has gone (a disk not mounted).
Refusal dest_marker_missing(const Pair& pair);

// Claims an unclaimed destination: creates DEST (never its parent) and writes
// its marker, then records the claim. Throws Refusal when it cannot.
void claim_destination(Catalog& catalog, const Pair& pair);

// Removes the folders of DEST/.barge/trash and DEST/.barge/versions whose UTC
// time is older than retention_days (SPEC §7.5), never following a symlink.
// Returns how many were removed. Throws SystemError naming the path.
int64_t prune_expired(const DestTree& tree, int retention_days);

} // namespace barge
