#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace barge {

// What an unload killed between a directory's rename at the destination and
// the commit that records it left behind (TransitStore::record_dir_move, the
// drive's journal of that move). When the destination shows the move made
// (nothing at the old path, a real directory by the exact new name) and the
// catalog still holds the old directory as gone from the source, the move is
// recorded now (TransitStore::move_dest_subtree); otherwise the rename was not
// made, or a load found the old path at the source again since, and only the
// journal goes. Either way in one commit. Returns a note for the user in the
// last case. Called by unload and verify-destination before they read the
// catalog for anything else; nothing to do (one lookup) without a journal.
std::optional<std::string> finish_dir_move(Catalog& catalog, const Pair& pair);

} // namespace barge
