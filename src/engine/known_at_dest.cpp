#include "barge/engine/known_at_dest.hpp"

#include "barge/fs/dir.hpp"
#include "barge/util/system.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

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
// never through a symlink, ends in ENOENT (the name or a parent missing),
// ENOTDIR (a parent is a file now: another drive delivered the source's
// directory turned file) or ELOOP (a parent is a symlink now, the same way:
// rotation_faults.sh 24), not in another error (a parent that cannot be
// searched, EIO). With O_PATH | O_NOFOLLOW, a symlink at `at` itself is
// opened, not refused: ELOOP names only a parent.
bool gone_at(const DestTree& tree, const EntryPath& at) {
    Fd fd = open_beneath(tree.fd(), at.rel(), O_PATH | O_NOFOLLOW);
    return !fd && nothing_there(errno);
}

// The regular file at `at` below the destination's root, as (device, inode);
// nothing when no regular file stands there or it cannot be looked up.
std::optional<std::pair<uint64_t, uint64_t>> file_at(const DestTree& tree, const EntryPath& at) {
    Fd parent = open_beneath(tree.fd(), at.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    std::optional<EntryStat> found = parent ? stat_entry(parent.get(), at.name) : std::nullopt;
    if (!found || found->type != StatKind::file) {
        return std::nullopt;
    }
    return std::pair{found->st.dev, found->st.ino};
}

// Whether the destination's file system makes hard links: a file made in
// .barge/staging and linked there, both names then removed ("tmp-" names: an
// unload killed in between removes them, as its other temporary files). No
// answer (failed) when the probe fails otherwise than refuses_hard_links says
// (a full or read-only file system, EIO).
enum class Links { unknown, yes, no, failed };
Links makes_hard_links(const DestTree& tree) {
    Fd staging = tree.open_dir(".barge/staging", DestTree::Create::yes);
    std::string name = "tmp-link-probe-" + random_hex(8);
    Fd made(::openat(staging.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!made) {
        return Links::failed;
    }
    Links out = Links::yes;
    if (::linkat(staging.get(), name.c_str(), staging.get(), (name + ".2").c_str(), 0) == 0) {
        ::unlinkat(staging.get(), (name + ".2").c_str(), 0);
    } else if (refuses_hard_links(errno)) {
        out = Links::no;
    } else {
        out = Links::failed;
    }
    ::unlinkat(staging.get(), name.c_str(), 0);
    return out;
}

} // namespace

bool KnownAtDestCheck::check(int64_t entry_id, const EntryPath& at, const TransitStore::KnownAtDest& known) {
    // A path no destination may have (a hostile catalog) is not looked up: not
    // found, so marked damaged, and its delivery fails naming it.
    bool safe = DestTree::is_safe(at.parent, at.name);
    int parent_fd = safe ? m_parents.at(at.parent) : -1;
    std::optional<EntryStat> found = parent_fd >= 0 ? stat_entry(parent_fd, at.name) : std::nullopt;
    if (found && found->type != StatKind::special && found->st.kind == known.kind &&
        (known.kind != Kind::file ||
         (found->st.size == known.size && mtime_as_known(found->st.mtime_ns, known.mtime_ns))) &&
        (known.kind != Kind::symlink || found->st.target == known.target)) {
        return true;
    }
    if (!found && safe && m_gone_is_known && known.kind != Kind::dir && gone_at(m_tree, at)) {
        ++m_stale;
        m_store.forget_at_dest(entry_id);
        spdlog::info("'{}' is gone from the destination (another drive deleted or moved it): known gone",
                     escape_bytes(m_tree.display(at.rel())));
        return false;
    }
    if (known.damaged) {
        return false; // marked damaged already: nothing new to count or say
    }
    ++m_stale;
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

int64_t check_link_groups(Catalog& catalog, const Pair& pair) {
    TransitStore store(catalog.db());
    std::vector<TransitStore::LinkedName> names = store.names_to_link_check(pair.id);
    if (names.empty()) {
        return 0;
    }
    DestTree tree(pair.dest);
    Links links = Links::unknown; // asked once, at the first split
    int64_t marked = 0;
    for (const auto& n : names) {
        if (!DestTree::is_safe(n.at.parent, n.at.name) ||
            !DestTree::is_safe(n.other.parent, n.other.name)) {
            continue;
        }
        auto here = file_at(tree, n.at);
        auto there = file_at(tree, n.other);
        if (!here || !there) {
            continue; // missing or replaced: for verify-destination to find
        }
        bool one = *here == *there;
        if (!one && links == Links::unknown) {
            links = makes_hard_links(tree);
        }
        if (!one && links == Links::failed) {
            return marked; // looked at again by the next unload
        }
        if (one || links == Links::no) {
            // One file there, or two where links cannot be: as known.
            store.raise_order(n.id, std::min(n.other_ord, n.ord));
            continue;
        }
        store.mark_damaged_at_dest(n.id);
        ++marked;
        spdlog::info("'{}' and '{}' are one file at the source, two at the destination: linked again",
                     escape_bytes(tree.display(n.at.rel())), escape_bytes(tree.display(n.other.rel())));
    }
    return marked;
}

} // namespace barge
