#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/util/fd.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace barge {

// After a directory's move at the destination (TransitStore::move_dest_subtree),
// called for each entry whose old knowledge moved onto the source's entry at the
// new path: whether the destination holds there what that knowledge says (the
// kind, a file's size, a symlink's target). Another drive may have moved,
// replaced or deleted a name under the old directory since this drive last knew
// it, and reading the order record raises only the order of such a name, not
// what is known there (docs/rotation.md). An entry not found as known is marked
// damaged at the destination: delivered again in this run or a later one, never
// taken as there. One fstatat per entry, the parent directory opened once per
// directory in a row; no byte is read.
class MovedKnowledgeCheck {
public:
    MovedKnowledgeCheck(TransitStore& store, const DestTree& tree) : m_store(store), m_tree(tree) {}
    void operator()(const TransitStore::MovedOnto& moved);
    int64_t stale() const { return m_stale; }

private:
    TransitStore& m_store;
    const DestTree& m_tree;
    std::optional<std::string> m_parent; // the directory m_parent_fd is open on
    Fd m_parent_fd;
    int64_t m_stale = 0;
};

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
