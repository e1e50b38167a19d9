#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/dir.hpp"
#include "barge/util/id_bits.hpp"

#include <cstdint>
#include <fcntl.h>

namespace barge {

// Whether the destination holds at a path what the catalog's knowledge of it
// says (TransitStore::KnownAtDest: the kind, a file's size and mtime, a
// symlink's target), where that knowledge may be older than the destination:
// another drive may have moved, replaced or deleted the name since this drive
// last knew it, and reading the order record raises only the order of such a
// name, not what is known there (docs/rotation.md). A file of the known size
// whose mtime stands apart from the known one by more than the destination's
// timestamp resolution is another version: say, one another drive delivered
// before the source took the old version back. An entry not found as known is
// marked damaged at the destination: delivered again in this run or a later
// one, never taken as there. One fstatat per entry, the parent directory opened
// once per directory in a row; no byte is read.
class KnownAtDestCheck {
public:
    // gone_is_known: where no file or symlink stands at the path (its lookup
    // ends in ENOENT, or ENOTDIR or ELOOP for a parent that is a file or a
    // symlink, not in another error), the entry is made to know nothing
    // there (TransitStore::forget_at_dest) rather than marked damaged: for an
    // order another drive raised, that drive deleted or moved the name
    // (check_raised_knowledge). A directory is still marked damaged: its times
    // journal and the files delivered into it rely on that (rotation_faults.sh 15).
    KnownAtDestCheck(TransitStore& store, const DestTree& tree, bool gone_is_known = false)
        : m_store(store), m_tree(tree), m_parents(tree.fd(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW),
          m_gone_is_known(gone_is_known) {}
    // False when it marked the entry damaged (or, as above, forgot it).
    bool check(int64_t entry_id, const EntryPath& at, const TransitStore::KnownAtDest& known);
    // After a directory's move (TransitStore::move_dest_subtree): the knowledge
    // that moved onto the source's entry at the new path. False when it marked
    // that entry damaged.
    bool operator()(const TransitStore::MovedOnto& moved) {
        return !moved.known || check(moved.new_id, moved.at, *moved.known);
    }
    int64_t stale() const { return m_stale; }

private:
    TransitStore& m_store;
    const DestTree& m_tree;
    ParentDirs m_parents;
    bool m_gone_is_known;
    int64_t m_stale = 0;
};

// The entries whose order the destination's order record raised over what this
// drive knew stood there (DestOrder::pull), or where a copy knew only an order
// there as new (merge_knowledge's `unconfirmed`), checked as above once the other
// drives' catalog copies are merged, in the caller's transaction (the pull's:
// learn_at_destination, for unload and verify-destination). Where no file or
// symlink stands at the path, another drive deleted or moved the name since:
// the entry knows nothing there, so that verify-destination does not report it missing
// (rotation_faults.sh 19) and a current version is delivered as new. Returns
// how many were not there as known.
int64_t check_raised_knowledge(Catalog& catalog, const Pair& pair, const IdBits& entry_ids);

// Names of one source inode that the destination holds as separate files
// (TransitStore::names_to_link_check: two drives each delivered one of them):
// the older delivered one is marked damaged, so this unload links it to its
// group's first name (docs/unload.md step 4b; its file goes to versions/). Where
// they are one file there, or the destination's file system makes no hard links
// (exFAT: each name is a copy there by design), its order is raised to the
// other name's, so that it is not asked again. In the caller's transaction;
// returns how many were marked.
int64_t check_link_groups(Catalog& catalog, const Pair& pair);

} // namespace barge
