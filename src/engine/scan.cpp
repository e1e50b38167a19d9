#include "barge/engine/scan.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/scan_hash.hpp"
#include "barge/engine/scan_walk.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/marker.hpp"
#include "barge/fs/xattrs.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"
#include "barge/util/glob.hpp"
#include "barge/util/id_bits.hpp"
#include "barge/util/text.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <functional>
#include <optional>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace barge {

namespace {
// " (last seen on this machine on DATE: is its disk mounted?)" where the end was
// last seen here; "" elsewhere.
std::string where_last_seen(const std::optional<std::string>& machine,
                            const std::optional<int64_t>& seen_ns) {
    if (!machine || *machine != machine_id()) {
        return "";
    }
    return fmt::format(" on this machine, where barge last saw it{}: is its disk mounted?",
                       seen_ns ? " (" + format_utc(*seen_ns) + ")" : std::string());
}
} // namespace

bool last_seen_here(const Pair& pair, End end) {
    const auto& machine = end == End::source ? pair.source_machine : pair.dest_machine;
    return machine && *machine == machine_id();
}

std::optional<std::string> source_not_visible(const Pair& pair) {
    std::string here = where_last_seen(pair.source_machine, pair.source_seen_ns);
    struct stat st{};
    if (::stat(pair.source.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        return fmt::format("source '{}' of pair '{}' is not visible{}: it is not a directory{}",
                           escape_bytes(pair.source), pair.name, here.empty() ? " here" : here,
                           here.empty() ? " (is its disk mounted?)" : "");
    }
    if (pair.source_marker) {
        if (!has_marker(pair.source, pair.uuid, Role::source)) {
            return fmt::format(
                "source '{}' of pair '{}' lacks its marker '{}'{}: refusing to scan it (an "
                "unmounted disk or a different tree must never read as \"everything was "
                "deleted\"); if this really is the source, re-add the pair",
                escape_bytes(pair.source), pair.name,
                escape_bytes(marker_path(pair.source, pair.uuid, Role::source)), here);
        }
    } else if (!dir_has_content(pair.source)) {
        return fmt::format("source '{}' of pair '{}' is empty{}: refusing to scan it (an empty "
                           "mount point must never read as \"everything was deleted\")",
                           escape_bytes(pair.source), pair.name, here);
    }
    return std::nullopt;
}

void check_source_visible(const Pair& pair) {
    if (auto why = source_not_visible(pair)) {
        throw Refusal(*why);
    }
}

namespace {

bool same_metadata(const FileStat& a, const FileStat& b) {
    return a.mode == b.mode && a.uid == b.uid && a.gid == b.gid && a.mtime_ns == b.mtime_ns &&
           a.ctime_ns == b.ctime_ns && a.ino == b.ino && a.dev == b.dev && a.xattrs == b.xattrs;
}

class Walker {
public:
    Walker(Catalog& catalog, const Pair& pair, ScanResult& result, int64_t gen, int64_t ord)
        : m_store(catalog.db(), ord), m_pair(pair), m_result(result), m_gen(gen),
          m_read_all_attrs(pair.xattr_scope != attr_scope()) {}

    // Hash new files as they are listed (scan with hashing), on the walk's
    // transaction; a new file that may be a rename of a known one is left to the
    // hash phase, after match_renames has given it the known content.
    // checkpoint commits the walk's transaction and begins the next one: called
    // every two seconds, so that a first scan killed after an hour of hashing
    // keeps that hour, as the hash phase's own commits do. scan_pair hashes
    // inline only where the mass-change brake cannot fire (no file known, no
    // learned deletion): a braked scan must record nothing, not even new files,
    // since they would count as known to the next scan's brake and weaken it.
    void hash_inline(double deadline, Progress* progress, std::function<void()> checkpoint) {
        m_renames_possible = m_store.any_content(m_pair.id);
        m_checkpoint = std::move(checkpoint);
        m_hasher.emplace(m_pair, deadline, m_store, m_result, progress, [this] { maybe_checkpoint(); });
    }

    void walk(Lister& lister) {
        m_last_checkpoint = monotonic_seconds();
        while (auto listing = lister.next()) {
            merge(*listing);
            if (m_hasher) {
                m_hasher->record();
            }
            maybe_checkpoint();
        }
        if (m_hasher) {
            m_hasher->finish();
        }
        if (lister.stopped()) {
            m_result.stopped_early = true;
        }
    }

    const IdBits& modified_ids() const { return m_modified_ids; }
    // The scope of the attributes this scan read ("user" or "root"), and whether
    // it failed to read some (a directory it could not list, or one that
    // vanished, included: its entries went unseen).
    const char* attr_scope() const { return m_root ? "root" : "user"; }
    bool attrs_failed() const { return m_attrs_failed; }
    bool read_all_attrs() const { return m_read_all_attrs; }
    // Files merged that have no content on record or a racy one: the hash phase's
    // work (none after the rescan of an unchanged tree: then it need not look).
    int64_t to_hash() const { return m_to_hash; }

private:
    // Nothing the brake counts, nor any deletion, found so far (always so where
    // checkpoints are given: a belt with the braces).
    bool only_additions() const {
        return m_result.modified == 0 && m_result.deleted == 0 && m_result.deleted_dirs == 0;
    }

    // Also called while the hasher waits, in the middle of a directory: what is
    // committed then is new and unchanged entries only, as a walk stopped there
    // would leave them.
    void maybe_checkpoint() {
        constexpr double checkpoint_every_seconds = 2.0;
        if (!m_hasher || !only_additions() ||
            monotonic_seconds() - m_last_checkpoint < checkpoint_every_seconds) {
            return;
        }
        m_hasher->record();
        m_checkpoint();
        m_last_checkpoint = monotonic_seconds();
    }

    std::string display(std::string_view rel) const {
        return rel.empty() ? m_pair.source : join_path(m_pair.source, rel);
    }

    void problem(std::string_view rel, const std::string& reason) {
        m_result.problems.push_back({display(rel), reason});
    }

    void merge(const Listing& l) {
        const std::string& dir = l.dir;
        if (!l.error.empty()) {
            // The directory's catalog rows stay as they are: unreadable is not
            // deleted. Its entries were not seen: the scan is not complete (no
            // restamp, no deletions learned from other drives) and records no
            // attribute scope.
            m_attrs_failed = true;
            if (l.vanished) {
                // Removed or replaced since its parent's listing: a race with the
                // user, not a failure; the next scan sees what stands there now
                // (changing_source.sh).
                m_result.notes.push_back(fmt::format(
                    "'{}' vanished or was replaced while the scan listed it: the next scan sees it",
                    escape_bytes(display(dir))));
                return;
            }
            // Its files may still be readable (a directory with mode --x) and some
            // may want a hash: the hash phase looks at the catalog itself.
            problem(dir, l.error);
            ++m_to_hash;
            return;
        }
        std::vector<EntryRow> rows = m_store.children(m_pair.id, dir);
        size_t r = 0;
        for (const auto& item : l.items) {
            const std::string& name = item.name;
            while (r < rows.size() && rows[r].name < name) {
                gone(dir, rows[r++]);
            }
            EntryRow* row = (r < rows.size() && rows[r].name == name) ? &rows[r++] : nullptr;
            if (name == ".barge" || item.skipped_dir) {
                continue;
            }
            std::string rel = join_path(dir, name);
            if (!item.es) {
                if (item.err == ENOENT) {
                    if (row) {
                        gone(dir, *row); // vanished between listing and stat
                    }
                } else {
                    problem(rel, fmt::format("cannot examine: {}", std::strerror(item.err)));
                    ++m_to_hash; // its row stays as it is: the hash phase decides
                    m_attrs_failed = true;
                }
                continue;
            }
            bool device = item.es->type == StatKind::node && is_device(item.es->st.kind);
            if (item.es->type == StatKind::special || (device && !m_root)) {
                ++m_result.special_skipped;
                m_result.notes.push_back(fmt::format(
                    "skipped '{}': {}", escape_bytes(display(rel)),
                    device ? "a device node is carried only when barge runs as root"
                           : "a socket (or another kind of file barge does not carry)"));
                // A device a scan as root recorded stays as it is: not seeing it
                // without root is not its deletion.
                bool known_device = device && row && row->kind && is_device(*row->kind);
                if (row && !known_device) {
                    gone(dir, *row);
                }
                continue;
            }
            if (item.excluded) {
                ++m_result.excluded;
                if (row) {
                    gone(dir, *row);
                }
                continue;
            }
            present(l.fd.get(), dir, name, rel, item.es->st, row);
        }
        while (r < rows.size()) {
            gone(dir, rows[r++]);
        }
    }

    // The entry's extended attributes: read again only when it is new, its ctime
    // or inode moved (setting or removing one changes the ctime, SPEC §6), its
    // hash is racy, or the catalog's attributes are not of this scan's scope
    // (a catalog migrated from schema 3, a scan as root after one as a user, a
    // scan that failed to read some). Read beneath the listing's open directory.
    void read_attrs(int dirfd, const std::string& name, const std::string& rel, FileStat& st,
                    const EntryRow* row) {
        if (!m_read_all_attrs && row && row->kind && !row->racy &&
            row->st.ctime_ns == st.ctime_ns && row->st.ino == st.ino) {
            st.xattrs = row->st.xattrs;
            return;
        }
        try {
            st.xattrs = read_xattrs(beneath_fd(dirfd, name, display(rel)), m_root, display(rel));
        } catch (const SystemError& e) {
            if (e.err() == ENOENT) {
                return; // gone since its stat: the next scan sees it go
            }
            problem(rel, e.what());
            m_attrs_failed = true; // the next scan reads every entry's again
            if (row) {
                st.xattrs = row->st.xattrs;
            }
        }
    }

    void present(int dirfd, const std::string& dir, const std::string& name,
                 const std::string& rel, FileStat st, EntryRow* row) {
        read_attrs(dirfd, name, rel, st, row);
        bool is_dir = st.kind == Kind::dir;
        if (st.kind == Kind::file && (!row || !row->kind || *row->kind != Kind::file ||
                                      !row->content_id || row->racy ||
                                      !same_file_stat(row->st, st))) {
            ++m_to_hash;
        }
        if (!row) {
            int64_t id = m_store.insert(m_pair.id, dir, name, st, m_gen);
            ++(is_dir ? m_result.new_dirs : m_result.new_files);
            hash_new(id, rel, st);
            return;
        }
        if (!row->kind) {
            left_inode(*row, st);
            m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
            ++(is_dir ? m_result.new_dirs : m_result.new_files);
            hash_new(row->id, rel, st);
            return;
        }
        if (*row->kind != st.kind) {
            if (*row->kind == Kind::dir) {
                subtree_gone(rel);
            }
            m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
            if (is_dir) {
                ++m_result.new_dirs;
                ++m_result.deleted; // a file or symlink became a directory
            } else if (*row->kind == Kind::dir) {
                ++m_result.new_files; // a directory became a file: the file is new
            } else {
                ++m_result.modified; // a file became a symlink or the other way round
                m_modified_ids.insert(row->id);
            }
            return;
        }
        switch (st.kind) {
        case Kind::file:
            if (!same_file_stat(row->st, st)) {
                left_inode(*row, st);
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
                ++m_result.modified;
                m_modified_ids.insert(row->id);
            } else {
                if (row->st.mode != st.mode || row->st.uid != st.uid || row->st.gid != st.gid ||
                    row->st.xattrs != st.xattrs) {
                    m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
                }
                ++m_result.unchanged;
            }
            break;
        case Kind::symlink:
        case Kind::fifo:
        case Kind::chardev:
        case Kind::blockdev:
            if (row->st.target != st.target || row->st.rdev != st.rdev) {
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::yes);
                ++m_result.modified;
                m_modified_ids.insert(row->id);
            } else {
                if (!same_metadata(row->st, st)) {
                    m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
                }
                ++m_result.unchanged;
            }
            break;
        case Kind::dir:
            if (!same_metadata(row->st, st)) {
                m_store.update(row->id, st, m_gen, EntryStore::ForgetContent::no);
            }
            break;
        }
    }

    // A file on another inode than the catalog's (rewritten, or back after it
    // was gone) may have left a link group: EntryStore::leave_link_group.
    void left_inode(const EntryRow& row, const FileStat& st) {
        if (st.kind == Kind::file && row.st.ino != st.ino && row.st.ino != 0) {
            m_store.leave_link_group(row.id, m_pair.id, row.st);
        }
    }

    void hash_new(int64_t id, const std::string& rel, const FileStat& st) {
        if (m_hasher && st.kind == Kind::file &&
            !(m_renames_possible && m_store.inode_has_content(m_pair.id, st))) {
            m_hasher->submit(HashJob{id, rel, st, std::nullopt});
        }
    }

    void gone(const std::string& dir, const EntryRow& row) {
        if (!row.kind) {
            return; // already known to be gone
        }
        m_store.mark_gone(row.id, m_gen);
        if (*row.kind == Kind::dir) {
            subtree_gone(join_path(dir, row.name));
        } else {
            ++m_result.deleted;
        }
    }

    // A directory left the source (or became something else): it and every
    // directory below it count as deleted directories, as each new one counts
    // as a new directory.
    void subtree_gone(const std::string& rel) {
        EntryStore::SubtreeGone g = m_store.mark_subtree_gone(m_pair.id, rel, m_gen);
        m_result.deleted += g.others;
        m_result.deleted_dirs += 1 + g.dirs;
    }

    EntryStore m_store;
    const Pair& m_pair;
    ScanResult& m_result;
    int64_t m_gen;
    bool m_root = ::geteuid() == 0; // which attributes travel (carried_xattr)
    bool m_read_all_attrs;          // the catalog's are not of this scope: read all
    bool m_attrs_failed = false;
    IdBits m_modified_ids; // by entry id: a whole tree modified takes bits, not nodes
    int64_t m_to_hash = 0;
    bool m_renames_possible = true;
    std::optional<InlineHasher> m_hasher; // after m_store: destroyed before it
    std::function<void()> m_checkpoint;
    double m_last_checkpoint = 0;
};

} // namespace

ScanResult scan_pair(Catalog& catalog, const Pair& pair, const ScanOptions& options,
                     Progress* progress) {
    check_source_visible(pair);
    double deadline = options.max_seconds ? monotonic_seconds() + *options.max_seconds : 1e300;
    ScanResult result;
    int64_t to_hash = 0;
    if (progress) {
        progress->phase("scan", 0, 0);
    }
    {
        std::optional<Transaction> tx(std::in_place, catalog.db());
        EntryStore store(catalog.db(), 0);
        int64_t known = store.count_present(pair.id);
        int64_t gen = pair.scan_gen + 1;
        int64_t ord = take_order_stamp(catalog, pair, options.dry_run);
        Walker walker(catalog, pair, result, gen, ord);
        // The first scan of a tree (no file known, no deletion learned from
        // another drive: the brake cannot fire) hashes as it walks, committing as
        // it goes. A rescan walks, commits past the brake, then hashes what is new
        // in the hash phase, which commits as it goes: its hashing is kept
        // whatever happens to the walk.
        if (options.hash == ScanOptions::Hash::yes && !options.dry_run && known == 0 &&
            store.count_deletions_to_restamp(pair.id) == 0) {
            // The generation moves on as a stopped scan's does: rows committed now
            // are of a scan that may never finish, and the next scan must not take
            // them for its own (match_renames, changed_gen).
            walker.hash_inline(deadline, progress, [&] {
                catalog.set_scan_gen(pair.id, gen, std::nullopt);
                tx->commit();
                tx.emplace(catalog.db());
            });
        }
        {
            Lister lister(pair, options, deadline);
            walker.walk(lister);
        }
        to_hash = walker.to_hash();
        if (result.deleted > 0) {
            // A file deleted and another written with the same size and mtime can
            // get its inode: only a birth before the old entry's last ctime proves
            // a rename. The open may fail (the source vanished): then hashed.
            Fd root(::open(pair.source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
            ParentDirs parents(root.get(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
            IdBits renamed_from; // an old file is one deletion less once, however many new names it has
            store.match_renames(
                pair.id, gen,
                [&](const EntryStore::RenameCandidate& m) {
                    return same_inode_life(parents.at(m.parent), m.name, m.ino, m.dev, m.old_ctime_ns);
                },
                [&](const EntryStore::RenameMatch& m) {
                    --(walker.modified_ids().contains(m.new_id) ? result.modified : result.new_files);
                    if (renamed_from.insert(m.old_id)) {
                        --result.deleted;
                    }
                    ++result.renamed;
                });
        }
        bool complete = !result.stopped_early && result.problems.empty() && !walker.attrs_failed();
        // Files the destination holds that this drive knows only from another
        // drive, gone from the source: deletions this scan records (below), for
        // the brake like its own (a joining drive must not empty a destination
        // the drive that served it alone would brake on).
        int64_t learned_gone = complete ? store.count_deletions_to_restamp(pair.id) : 0;
        known += learned_gone;
        int64_t changed = result.modified + result.deleted + learned_gone;
        // Both conditions (SPEC §7.6): a share of the known files, and a number, so
        // that an ordinary edit in a small tree never brakes.
        if (known > 0 && !options.accept_mass_change && changed >= pair.mass_change_min &&
            static_cast<double>(changed) * 100.0 > pair.mass_change_limit * static_cast<double>(known)) {
            throw Refusal(fmt::format(
                "pair '{}': this scan found {} of {} known files deleted or modified ({:.1f}%, "
                "more than the limit of {}% and at least {}); nothing was recorded. If the "
                "source really changed this much, run again with --accept-mass-change",
                pair.name, changed, known,
                100.0 * static_cast<double>(changed) / static_cast<double>(known),
                pair.mass_change_limit, plural(pair.mass_change_min, "file")));
        }
        if (complete) {
            // Every entry was seen as it is now: one whose destination holds a
            // version stamped later by another drive, yet that is not what the
            // source has now, is stamped now (the source's present is newer than
            // anything observed before), and so is one gone from the source that
            // this drive only learned of from another (SPEC §9).
            result.restamped = store.restamp_superseded(pair.id, ord);
        }
        catalog.set_seen(pair.id, End::source, machine_id(), now_ns());
        catalog.set_scan_gen(pair.id, gen,
                             result.stopped_early ? std::nullopt : std::optional<int64_t>(now_ns()));
        // The scope is recorded only once every entry's attributes were read in
        // it; a scan that read some in another scope and did not finish (stopped
        // early, an unreadable directory or attribute) leaves none, so that the
        // next scan reads them all.
        if (!walker.attrs_failed() && !result.stopped_early) {
            catalog.set_xattr_scope(pair.id, std::string(walker.attr_scope()));
        } else if (walker.attrs_failed() || walker.read_all_attrs()) {
            catalog.set_xattr_scope(pair.id, std::nullopt);
        }
        tx->commit();
    }
    if (options.hash == ScanOptions::Hash::yes && !result.stopped_early && to_hash > 0) {
        hash_phase(catalog, pair, result, deadline, progress);
    }
    return result;
}

} // namespace barge
