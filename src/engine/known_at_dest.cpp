#include "barge/engine/known_at_dest.hpp"

#include "barge/fs/dir.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <spdlog/spdlog.h>

namespace barge {

namespace {

// How far a file's mtime at the destination may stand from the one barge set
// there: the destination's timestamp resolution, 2 s at most (FAT; exFAT keeps
// 10 ms). Another version put there by another drive has its own mtime.
constexpr int64_t mtime_slack_ns = 2'000'000'000;

bool mtime_as_known(int64_t found, const std::optional<int64_t>& known) {
    return !known || (found > *known ? found - *known : *known - found) < mtime_slack_ns;
}

// Whether nothing stands at `at` below the destination's root: its lookup,
// never through a symlink, ends in ENOENT (the name or a parent missing), not
// in another error (a parent that cannot be searched, a symlink in the way, EIO).
bool gone_at(const DestTree& tree, const EntryPath& at) {
    Fd fd = open_beneath(tree.fd(), at.rel(), O_PATH | O_NOFOLLOW);
    return !fd && errno == ENOENT;
}

} // namespace

bool KnownAtDestCheck::check(int64_t entry_id, const EntryPath& at, const TransitStore::KnownAtDest& known) {
    // A path no destination may have (a hostile catalog) is not looked up: not
    // found, so marked damaged, and its delivery fails naming it.
    bool safe = DestTree::is_safe(at.rel());
    int parent_fd = safe ? m_parents.at(at.parent) : -1;
    std::optional<EntryStat> found = parent_fd >= 0 ? stat_entry(parent_fd, at.name) : std::nullopt;
    if (found && found->type != StatKind::special && found->st.kind == known.kind &&
        (known.kind != Kind::file ||
         (found->st.size == known.size && mtime_as_known(found->st.mtime_ns, known.mtime_ns))) &&
        (known.kind != Kind::symlink || found->st.target == known.target)) {
        return true;
    }
    ++m_stale;
    if (!found && safe && m_gone_is_known && known.kind != Kind::dir && gone_at(m_tree, at)) {
        m_store.forget_at_dest(entry_id);
        spdlog::info("'{}' is gone from the destination (another drive deleted or moved it): known gone",
                     escape_bytes(m_tree.display(at.rel())));
        return false;
    }
    m_store.mark_damaged_at_dest(entry_id);
    spdlog::info("'{}' is not at the destination as this drive last knew it: "
                 "delivered again",
                 escape_bytes(m_tree.display(at.rel())));
    return false;
}

int64_t check_raised_knowledge(Catalog& catalog, const Pair& pair, const IdBits& entry_ids) {
    if (entry_ids.size() == 0) {
        return 0;
    }
    TransitStore store(catalog.db());
    DestTree tree(pair.dest);
    KnownAtDestCheck check(store, tree, true);
    // In id order: a scan numbers the files it adds to a directory together, so
    // the parent directory open for one serves the next. Files added to many
    // directories over many runs may take an open of their parent each.
    entry_ids.each([&](int64_t id) {
        if (auto k = store.known_at_dest(id)) {
            check.check(id, k->at, k->known);
        }
    });
    return check.stale();
}

} // namespace barge
