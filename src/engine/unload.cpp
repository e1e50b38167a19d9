#include "barge/engine/unload.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/engine/assembly.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/dir_move.hpp"
#include "barge/engine/known_at_dest.hpp"
#include "barge/engine/error_sink.hpp"
#include "barge/engine/status.hpp"
#include "barge/engine/transfer.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/space.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <fcntl.h>
#include <sys/stat.h>
#include <fmt/format.h>
#include <functional>
#include <map>
#include <set>
#include <unordered_set>

namespace barge {

namespace {

// A duplicate at least this large is reflinked where the destination allows it.
constexpr int64_t reflink_from = 64 << 10;

// Per-directory memory of an unload stays a few bytes (SPEC §8): directories
// are kept by entry id, and the path-keyed memos below are emptied at these
// sizes (what was forgotten is looked up again when asked).
constexpr size_t recent_parents = 1024; // of the order intents, see run()
constexpr size_t touched_drain = 1024;  // see drain_touched()
constexpr size_t dir_ord_memo = 1 << 16; // see older_than_what_stands()

// Entry ids gathered with repeats (a directory met again after a memo let it
// go), held to about twice the distinct ones: sorted and rid of repeats each
// time they double past 65,536.
class IdSet {
public:
    void add(int64_t id) {
        m_ids.push_back(id);
        if (m_ids.size() >= m_compact_at) {
            compact();
            m_compact_at = std::max(m_compact_at, 2 * m_ids.size());
        }
    }
    bool empty() const { return m_ids.empty(); }
    // The ids, sorted, each once.
    const std::vector<int64_t>& sorted() {
        compact();
        return m_ids;
    }
    void clear() { m_ids = {}; }

private:
    void compact() {
        std::sort(m_ids.begin(), m_ids.end());
        m_ids.erase(std::unique(m_ids.begin(), m_ids.end()), m_ids.end());
    }
    std::vector<int64_t> m_ids;
    size_t m_compact_at = size_t{1} << 16;
};

// A file on its way into the destination: written to DEST/.barge/staging, then
// verified, renamed into place and recorded by the transfer pipeline.
struct DeliveredFile : TransferItem {
    DeliveryItem item;
    Digest hash{};
    bool local = false;     // copied from the destination's own verified copy
    bool assembled = false; // a multi-trip file's assembly file
    bool shelve = false;    // superseded: kept in versions/, its path left alone
};

class Unloader : public Transfer<DeliveredFile>::Client {
public:
    Unloader(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
             const UnloadOptions& options, UnloadResult& result, Progress* progress, DestOrder& order)
        : m_order(order), m_catalog(catalog), m_store(catalog.db()), m_cargo(layout), m_pair(pair),
          m_result(result), m_progress(progress), m_dest(pair),
          m_piece_size(static_cast<int64_t>(catalog.piece_size())), m_pipe(read_block),
          m_sink("unload " + pair.name, result.failures, result.notes,
                 [this](int64_t entry, const std::string& reason) {
                     m_store.set_failure(entry, reason, now_ns());
                 }),
          m_assembler(catalog, pair, m_cargo, m_dest, m_pipe, m_sink, m_assembly, result.notes,
                      [this](int64_t bytes) { return room_for(bytes); }),
          m_transfer(m_dest.staging(), *this, m_sink, RetryPolicy{options.attempts}) {}

    void run() {
        if (m_progress) {
            PairStatus ps = pair_status(m_catalog, m_pair, 0);
            m_progress->phase("unload", static_cast<uint64_t>(ps.on_cargo.files),
                              static_cast<uint64_t>(ps.on_cargo.bytes));
        }
        // Before anything changes at the destination: what this run may change
        // there, with its order, so that no drive arriving later with an older
        // version replaces it, even if this run is killed half-way (SPEC §7.12).
        // The delivered directories among the parents of what it may change, by
        // entry id, with those another drive delivered where this drive's scan
        // found a file or nothing (superseded); and the other directory entries
        // there (not delivered yet, or gone from the source), whose delivered
        // times a directory's move may carry to the entry written into
        // (move_renamed_dirs). The intents come grouped by directory (as the
        // scan found them; deletions in path order), so a memo of the last
        // parents spares nearly every lookup.
        restore_newer_dirs();
        IdSet parents; // delivered by this drive's view
        IdSet newer;   // superseded: another drive delivered them later
        {
            std::unordered_set<std::string> seen;
            m_order.record(m_catalog, m_pair, [&](const PathOrderSink& add) {
                m_store.each_order_intent(m_pair.id, [&](const std::string& parent, const std::string& name,
                                                         int64_t ord) {
                    add(parent, name, ord);
                    if (parent.empty()) {
                        return;
                    }
                    if (seen.size() >= recent_parents) {
                        seen.clear();
                    }
                    if (!seen.insert(parent).second) {
                        return;
                    }
                    if (auto d = m_store.dir_at(m_pair.id, parent)) {
                        // One this drive saw as a file or gone, where another
                        // drive delivered a directory since, is journaled too.
                        if (d->superseded) {
                            newer.add(d->id);
                        } else if (d->delivered) {
                            parents.add(d->id);
                        }
                        if (!d->delivered) {
                            m_pending_parents.add(d->id);
                        }
                    }
                });
            });
        }
        {
            Transaction tx(m_catalog.db());
            m_store.drop_deletion_records(m_pair.id);
            // The delivered directories this run may write into lose their
            // delivered times first: writing into one gives it the kernel's
            // mtime, and a run that dies before setting it back must leave it to
            // the next run, not called delivered. This run sets them at its end.
            // Those another drive delivered after this drive's scan of them keep
            // their delivered times, and a journal lists them instead: a run
            // that dies after writing into one leaves the next run to set that
            // drive's state back (restore_newer_dirs), not this drive's older view.
            for (int64_t id : parents.sorted()) {
                if (m_store.forget_dir_times(id)) {
                    m_times_only.add(id);
                }
            }
            for (int64_t id : newer.sorted()) {
                list_newer_dir(id);
            }
            if (!m_newer_dirs.empty()) {
                m_store.record_dir_times(m_pair.id, m_newer_dirs);
            }
            tx.commit();
        }
        parents.clear();
        newer.clear();
        try {
            move_renamed_dirs();
            m_pending_parents.clear();
            each_delivery(
                {Kind::dir},
                [&](const DeliveryItem& d) {
                    m_dest.make_dir(d);
                    m_dirs.push_back({d.entry_id, depth(d.rel())});
                },
                [&](const std::vector<DeliveryItem>& page) { before_dirs(page); });
            move_renamed();
            each_delivery({Kind::file}, [&](const DeliveryItem& d) {
                if (m_store.link_leader(m_pair.id, d)) {
                    m_deferred_links = true; // after its group's first name is in place
                    return;
                }
                deliver(d, 1);
            });
            m_transfer.flush();
            link_names();
            shelve_superseded();
            m_transfer.flush();
        } catch (const Stopped&) {
            // the file in progress was abandoned; its temporary file is gone
        }
        m_transfer.flush();
        if (stop_requested()) {
            stopped_midway();
            return;
        }
        deliver_links_and_nodes();
        apply_deletions();
        if (stop_requested()) {
            stopped_midway(); // between two pages of deletions, say
            return;
        }
        dir_metadata();
        if (!m_newer_dirs.empty()) {
            Transaction tx(m_catalog.db());
            m_store.drop_dir_times(m_pair.id); // their times are set back
            tx.commit();
        }
        xattr_notes();
        m_result.pruned += prune_expired(m_dest.tree(), m_pair.retention_days, m_dest.stamp());
        m_result.staged_pieces += m_assembly.staged_pieces;
        m_result.waiting += m_assembly.waiting;
        m_result.versions += m_dest.versions();
    }

    // A run that ended before setting back the times of directories another
    // drive had delivered after this drive's scan of them (it wrote into them)
    // left their journal: they get that delivery's state back first. One that
    // cannot be set is forgotten as delivered, as in dir_metadata. One that is
    // no longer there (another drive moved or removed it, or left a symlink
    // in its path) has nothing to set back, and nothing failed
    // (rotation_faults.sh 15; found with four drives by random_rotation.sh
    // seed 8).
    void restore_newer_dirs() {
        std::vector<int64_t> ids = m_store.dir_times(m_pair.id);
        if (ids.empty()) {
            return;
        }
        std::vector<int64_t> failed;
        for (int64_t id : ids) {
            auto d = m_store.delivered_dir(id);
            if (!d) {
                continue; // not a delivered directory any more
            }
            if (DestTree::is_safe(d->parent, d->name) &&
                !open_beneath(m_dest.tree().fd(), d->rel(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW) &&
                nothing_there(errno)) {
                continue;
            }
            if (!set_dir_back(*d)) {
                failed.push_back(id);
            }
        }
        m_dest.staging().renamed_barrier();
        Transaction tx(m_catalog.db());
        for (int64_t id : failed) {
            m_store.forget_set_back_times(id);
        }
        m_store.drop_dir_times(m_pair.id);
        tx.commit();
    }

    // Gives a directory it wrote into the state d holds again; whether it could
    // (a failure is the sink's, and leaves the kernel's mtime there).
    bool set_dir_back(const DeliveryItem& d) {
        bool set = false;
        for_file(m_sink, 0, display(d), [&] {
            m_dest.set_dir_metadata(d);
            set = true;
        });
        return set;
    }

    // What was verified is recorded; the rest (and the directories' own
    // metadata) waits for the next run.
    void stopped_midway() {
        m_result.interrupted = true;
        m_result.staged_pieces += m_assembly.staged_pieces;
        m_result.versions += m_dest.versions();
    }

    // Transfer<DeliveredFile>::Client: the verifier thread renames a verified
    // file into place (keeping what stood there as an old version).
    void place(DeliveredFile& f) override {
        if (f.shelve) {
            m_dest.place_version(f.written.front().file, f.item);
        } else {
            m_dest.place(f.written.front().file, f.item);
        }
    }

    void commit(std::vector<DeliveredFile>& placed) override {
        Transaction tx(m_catalog.db());
        int64_t now = now_ns();
        for (auto& f : placed) {
            if (f.shelve) {
                m_store.set_shelved(f.item.entry_id);
                ++m_result.superseded;
                if (m_progress) {
                    m_progress->item("superseded", f.item.rel());
                }
                continue;
            }
            m_store.mark_delivered(f.item.entry_id, now);
            if (f.assembled) {
                m_store.clear_staged(m_pair.id, *f.item.content_id);
            }
            ++m_result.files;
            m_result.bytes += f.item.st.size;
            m_result.local_copies += f.local ? 1 : 0;
            if (m_progress) {
                m_progress->advance(1, static_cast<uint64_t>(f.item.st.size), f.item.rel());
                m_progress->item(f.local ? "copied" : "delivered", f.item.rel());
            }
        }
        tx.commit();
        drain_touched(false);
    }

    void retry(DeliveredFile&& f) override {
        if (f.assembled) {
            // Its pieces are recorded as staged and may be gone from the cargo:
            // they are carried again.
            m_assembler.forget(f.item);
            f.written.front().file.discard();
            m_sink.fail(f.item.entry_id, describe(f),
                        "the assembled file does not match its hash; its pieces will be carried again");
            return;
        }
        deliver(f.item, f.attempt);
    }

    void failed(DeliveredFile& f, const std::string& reason) override {
        m_sink.fail(f.item.entry_id, describe(f), reason);
    }

    std::string mismatch(const DeliveredFile&, size_t) override {
        return "the copy at the destination read back different from what was written (a "
               "failing destination disk?)";
    }

    std::string describe(const DeliveredFile& f) override { return display(f.item); }

private:
    std::string display(const EntryPath& d) const { return m_dest.display(d.rel()); }

    // Throws (the entry's error) when d's path is unsafe or under a directory
    // refused this run.
    void check_deliverable(const EntryPath& d) const {
        DestTree::check_path(d.parent, d.name);
        if (auto refused = m_dest.refused_ancestor(d)) {
            throw Error(fmt::format("its directory '{}' could not be created (see its own error)",
                                    escape_bytes(m_dest.display(*refused))));
        }
    }

    static std::ptrdiff_t depth(const std::string& rel) { return std::count(rel.begin(), rel.end(), '/'); }

    // Before a page of directories is made: their orders go to the
    // destination's order record (each_order_intent leaves directories out),
    // and the delivered directories they are made in lose their delivered
    // times in one commit.
    void before_dirs(const std::vector<DeliveryItem>& page) {
        m_order.record(m_catalog, m_pair, [&](const PathOrderSink& add) {
            for (const auto& d : page) {
                add(d.parent, d.name, d.ord);
            }
        });
        Transaction tx(m_catalog.db());
        const std::string* last = nullptr; // the page comes grouped by parent
        for (const auto& d : page) {
            if (!last || *last != d.parent) {
                forget_delivered_parent(d.parent);
            }
            last = &d.parent;
        }
        tx.commit();
    }

    // Directory id, one another drive delivered after this drive's scan of it
    // (TransitStore::DirAt::superseded), keeps that delivery's times: listed in
    // m_newer_dirs (id order) for the caller to journal.
    void list_newer_dir(int64_t id) {
        auto it = std::lower_bound(m_newer_dirs.begin(), m_newer_dirs.end(), id);
        if (it == m_newer_dirs.end() || *it != id) {
            m_newer_dirs.insert(it, id);
        }
    }

    // A name is about to appear in directory rel (a directory made or moved
    // there) that is not a parent of the run's intents (run() forgot those):
    // if it is a delivered directory, it loses its delivered times, in the
    // caller's transaction, and this run sets them at its end like a made
    // directory's. Its source mtime is then the delivered one, though the new
    // name is new in it, only when set back by hand or by a tool; a run killed
    // after the name appeared must still leave its times to the next run.
    void forget_delivered_parent(const std::string& rel) {
        if (rel.empty()) {
            return; // the root's times are never set
        }
        // One another drive delivered after this drive's scan of it is journaled
        // as run() journals the intents' parents: forgotten, a run killed after
        // writing into it left it to no one (this drive's version of it is older,
        // so never delivered), with the kernel's mtime (random_rotation.sh seed 194).
        // The name made in it counts it touched (Destination::make_dir):
        // dir_metadata sets that delivery's times back at the end
        // (random_rotation_partial.sh seed 47).
        size_t journaled = m_newer_dirs.size();
        if (auto at = m_store.dir_at(m_pair.id, rel); at && at->superseded) {
            list_newer_dir(at->id);
            if (m_newer_dirs.size() != journaled) {
                m_store.record_dir_times(m_pair.id, m_newer_dirs);
            }
            return;
        }
        if (auto id = m_store.forget_delivered_dir_times(m_pair.id, rel)) {
            m_times_only.add(*id);
            m_dirs.push_back({*id, depth(rel)});
        }
    }

    // Pages through the pair's undelivered entries of one kind, in path order;
    // each one's errors go to the sink.
    // before_page: called with each page before any of it is made, after_page
    // after each whole page, both outside any one file's errors.
    template <typename F>
    void each_delivery(const std::vector<Kind>& kinds, F&& f,
                       const std::function<void(const std::vector<DeliveryItem>&)>& before_page = {},
                       const std::function<void()>& after_page = {}) {
        m_store.each_delivery_page(m_pair.id, kinds, 256, [&](std::vector<DeliveryItem>& page) {
            if (stop_requested()) {
                return false;
            }
            if (before_page) {
                before_page(page);
            }
            for (auto& d : page) {
                if (stop_requested()) {
                    return false;
                }
                for_file(m_sink, d.entry_id, display(d), [&] {
                    check_deliverable(d);
                    if (!older_than_what_stands(d)) {
                        f(d);
                    }
                });
            }
            if (after_page) {
                after_page();
            }
            return true;
        });
    }

    // Whether an ancestor directory of d's path is, at the destination, not a
    // directory but something recorded with a later order than d's (another
    // drive replaced the directory by a file, SPEC §7.12): then d is older
    // than what stands there, and making its directory would replace a newer
    // file. d is marked superseded (its file kept in versions/ by
    // shelve_superseded; the next scan stamps it anew if it is still current).
    bool older_than_what_stands(const DeliveryItem& d) {
        std::string dir = d.parent;
        int64_t newest = 0;
        if (m_not_dir_ord.size() >= m_dir_ord_limit) {
            // Nearly all are directories standing there (0): those are looked
            // up again when asked. The rare others are kept for the whole run.
            std::erase_if(m_not_dir_ord, [](const auto& kv) { return kv.second == 0; });
            m_dir_ord_limit = std::max(dir_ord_memo, 2 * m_not_dir_ord.size());
        }
        while (!dir.empty()) {
            auto it = m_not_dir_ord.find(dir);
            if (it == m_not_dir_ord.end()) {
                int64_t ord = 0;
                EntryPath at = EntryPath::of(dir);
                Fd parent = open_beneath(m_dest.tree().fd(), at.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
                struct stat st{};
                // Not a directory there, or nothing at all: a directory
                // recorded there later than d (another drive replaced it by a
                // file, or deleted it) makes d older than the destination.
                if (!parent || ::fstatat(parent.get(), at.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
                    !S_ISDIR(st.st_mode)) {
                    ord = m_order.ord_of(dir);
                }
                it = m_not_dir_ord.emplace(dir, ord).first;
            }
            newest = std::max(newest, it->second);
            dir = EntryPath::of(dir).parent;
        }
        if (newest <= d.ord) {
            return false;
        }
        Transaction tx(m_catalog.db());
        m_store.raise_order(d.entry_id, newest); // superseded: shelve_superseded keeps its file
        tx.commit();
        return true;
    }

    // Free space above the reserve, read once per batch: what the batch writes is
    // counted by m_pending_bytes until the next reading.
    bool room_for(int64_t bytes) {
        if (!m_free) {
            Space sp = fs_space(m_dest.tree().root());
            m_free = static_cast<int64_t>(sp.available) -
                     static_cast<int64_t>(m_pair.reserve.resolve(sp.capacity));
        }
        return *m_free - m_pending_bytes >= bytes;
    }

    void add(DeliveredFile f) {
        m_pending_bytes += f.item.st.size;
        if (m_transfer.add(std::move(f))) {
            m_pending_bytes = 0; // the next batch reads the free space afresh
            m_free.reset();
        }
    }

    // The destination's copy of entry `holder` that a rename, link, duplicate or
    // metadata change was to use is missing or not what was delivered there:
    // marked damaged (no longer a source for anything; the next load carries the
    // content again, SPEC §7.4), and the user told.
    void copy_not_there(int64_t holder, std::string note) {
        Transaction tx(m_catalog.db());
        m_store.mark_damaged_at_dest(holder);
        tx.commit();
        m_result.notes.push_back(std::move(note));
    }

    // Is the right content already at d's final path (an interrupted run, a
    // destination seeded by hand, a change of metadata alone)? Then its metadata
    // is set there (Destination::already_there) and d recorded delivered. Not
    // when the file there is also another source file's name at the
    // destination: a link group broken at the source with its content kept
    // (`cp -p a t && mv t a`). d is then written as a file of its own, copied
    // from the destination. The names looked at are bounded: a content held
    // under thousands of names (empty files) is not searched through.
    bool in_place(const DeliveryItem& d, const Digest& hash) {
        auto shared = [&](uint64_t dev, uint64_t ino) {
            for (const EntryPath& other : m_store.holders_outside_group(m_pair.id, d, 16)) {
                if (m_dest.is_file_at(other, dev, ino)) {
                    return true;
                }
            }
            return false;
        };
        if (!m_dest.already_there(d, hash, m_pipe, shared)) {
            return false;
        }
        Transaction tx(m_catalog.db());
        m_store.mark_delivered(d.entry_id, now_ns());
        tx.commit();
        ++m_result.already_there;
        if (m_progress) {
            m_progress->item("in place", d.rel());
        }
        return true;
    }

    // One file: its errors, a corrupt piece included, go to the sink.
    void deliver(const DeliveryItem& d, int attempt) {
        for_file(m_sink, d.entry_id, display(d), [&] {
            try {
                deliver_file(d, attempt);
            } catch (const CorruptPiece& c) {
                // Removed and queued again: the next load carries it from the source.
                m_cargo.remove(c.piece().hash);
                m_store.set_off_cargo(c.piece().id);
                ++m_result.corrupt_pieces;
                m_sink.fail(d.entry_id, display(d), c.what());
            }
        });
    }

    void deliver_file(const DeliveryItem& d, int attempt) {
        if (!d.content_id) {
            ++m_result.waiting; // not loaded (or hashed) yet
            return;
        }
        if (!d.content_hash) {
            throw CatalogError(fmt::format("catalog names content {} that it does not hold",
                                           *d.content_id));
        }
        const Digest& hash = *d.content_hash;
        int64_t pieces = d.st.size == 0 ? 0 : (d.st.size + m_piece_size - 1) / m_piece_size;
        bool multi_trip = pieces > 1 &&
                          !m_store.held_at_dest(d.entry_id, *d.content_id) &&
                          !m_store.on_cargo(m_pair.id, *d.content_id, pieces).whole_on_cargo();
        if (in_place(d, hash)) {
            return;
        }
        if (multi_trip) {
            // Spread over several trips: assembled piece by piece in staging.
            if (auto part = m_assembler.assemble(d, hash, pieces)) {
                DeliveredFile f;
                f.item = d;
                f.hash = hash;
                f.assembled = true;
                f.bytes = d.st.size;
                f.written.push_back({std::move(*part), hash, d.st.size});
                add(std::move(f));
            }
            return;
        }
        stage(d, hash, attempt);
    }

    // Writes a file whose pieces are all on the cargo (or an empty file, or a copy
    // of a delivered file with the same content) to a temporary file in staging.
    void stage(const DeliveryItem& d, const Digest& hash, int attempt, bool shelve = false) {
        if (!room_for(d.st.size)) {
            throw Error("the destination is full (its reserve would be used); it stays on the cargo");
        }
        DeliveredFile f;
        f.shelve = shelve;
        f.item = d;
        f.hash = hash;
        f.attempt = attempt;
        f.bytes = d.st.size;
        TempFile out = m_transfer.create("tmp-", "", d.st.size, 0600);
        if (auto local = m_store.held_at_dest(d.entry_id, *d.content_id)) {
            // A rename or a duplicate: the destination's own verified copy, re-hashed
            // while copied. No cargo bytes needed.
            Fd in = open_beneath(m_dest.tree().fd(), local->rel, O_RDONLY | O_NOFOLLOW);
            if (in && m_reflink && d.st.size >= reflink_from) {
                // Checked first, then shared (FICLONE) where the file system can:
                // no bytes written, no space taken. The first refusal ends trying.
                uint64_t n = 0;
                if (hash_fd(in.get(), m_pipe, n, m_dest.display(local->rel)) == hash &&
                    static_cast<int64_t>(n) == d.st.size) {
                    f.local = out.clone_from(in.get(), d.st.size);
                    m_reflink = f.local;
                }
            }
            if (in && !f.local) {
                m_pipe.reset();
                uint64_t n = copy_through(m_pipe, in.get(), 0, d.st.size, m_dest.display(local->rel), &out, 0);
                f.local = m_pipe.finish() == hash && static_cast<int64_t>(n) == d.st.size;
            }
            if (!f.local) {
                // Not what was delivered there: the next load carries the content
                // again (SPEC §7.4), unless the cargo has it now.
                copy_not_there(local->id, fmt::format(
                    "the destination's copy '{}' of the content of '{}' is {}: it is carried "
                    "again",
                    escape_bytes(m_dest.display(local->rel)), escape_bytes(display(d)),
                    in ? "damaged" : "missing"));
                out = m_transfer.create("tmp-", "", d.st.size, 0600); // from the cargo, anew
            }
        }
        if (!f.local && d.st.size > 0) {
            int64_t pieces = (d.st.size + m_piece_size - 1) / m_piece_size;
            ContentOnCargo here = m_store.on_cargo(m_pair.id, *d.content_id, pieces);
            if (!here.whole_on_cargo()) {
                ++m_result.waiting;
                return;
            }
            for (int64_t i = 0; i < pieces; ++i) {
                m_cargo.copy_piece(*here.cargo[static_cast<size_t>(i)], m_pipe, out, i * m_piece_size);
            }
        }
        m_dest.apply_metadata(out.fd(), d.st, out.display());
        out.finish();
        f.written.push_back({std::move(out), hash, d.st.size});
        add(std::move(f));
    }

    // Files this drive carries in a version older than the one another drive
    // delivered since (SPEC §9): kept in DEST/.barge/versions/<time>/ with their
    // path, the newer file left in place. Only a file whose bytes are all here.
    void shelve_superseded() {
        std::string after_parent, after_name;
        for (;;) {
            auto page = m_store.superseded(m_pair.id, after_parent, after_name, 256);
            if (page.empty() || stop_requested()) {
                return;
            }
            after_parent = page.back().parent;
            after_name = page.back().name;
            for (auto& d : page) {
                for_file(m_sink, d.entry_id, display(d), [&] {
                    DestTree::check_path(d.parent, d.name);
                    if (!d.content_hash) {
                        return;
                    }
                    int64_t pieces = d.st.size == 0 ? 0 : (d.st.size + m_piece_size - 1) / m_piece_size;
                    if (pieces > 0 && !m_store.held_at_dest(d.entry_id, *d.content_id) &&
                        !m_store.on_cargo(m_pair.id, *d.content_id, pieces).whole_on_cargo()) {
                        return; // not (all) here: nothing to keep
                    }
                    stage(d, *d.content_hash, 1, true);
                });
            }
        }
    }

    // The order of entry id's version (or deletion).
    int64_t ord_of(int64_t id) {
        Statement st = m_catalog.db().prepare("SELECT ord FROM entries WHERE id = ?");
        st.bind(1, id);
        int64_t out = st.step() ? st.column_int(0) : 0;
        st.reset();
        return out;
    }

    void drop_dir_move() {
        Transaction tx(m_catalog.db());
        m_store.drop_dir_move(m_pair.id);
        tx.commit();
    }

    // Directories renamed or moved at the source: one rename at the destination,
    // and the catalog's knowledge of what is under it follows (work per entry, no
    // bytes read). What changed inside meanwhile is delivered by the passes after
    // this one, like any change; what was deleted inside is deleted there.
    void move_renamed_dirs() {
        if (!m_store.any_gone(m_pair.id)) {
            return;
        }
        const std::vector<int64_t>& pending = m_pending_parents.sorted(); // sorted once: no more are added
        for (auto [to_id, from_id] : m_store.renamed_dirs(m_pair.id)) {
            if (stop_requested()) {
                return;
            }
            // Looked up again: an earlier move in this loop may have carried it along.
            auto from = m_store.dir_for_move(from_id, true);
            auto to = m_store.dir_for_move(to_id, false);
            if (!from || !to) {
                continue;
            }
            if (m_order.newest_under(from->rel()) > ord_of(from_id)) {
                continue; // another drive delivered into it later: moved name by name
            }
            if (!m_store.same_dir_moved(m_pair.id, from->rel(), to->rel())) {
                continue; // a new directory on a reused inode: made, the old one's names deleted
            }
            for_file(m_sink, to_id, display(*to), [&] {
                {
                    Transaction tx(m_catalog.db());
                    forget_delivered_parent(to->parent);
                    m_store.record_dir_move(m_pair.id, {from_id, *from, *to});
                    tx.commit();
                }
                bool moved = false;
                try {
                    moved = m_dest.move_dir(*from, *to);
                } catch (...) {
                    drop_dir_move();
                    throw;
                }
                if (!moved) {
                    drop_dir_move();
                    return; // its files are renamed one by one
                }
                m_dest.staging().renamed_barrier();
                Transaction tx(m_catalog.db());
                // A directory this run writes into that the move delivers (it
                // takes over the old one's times) has its delivered times
                // forgotten in the same commit, as the other parents' were
                // before anything changed: a run killed after writing into
                // it leaves it to the next run.
                KnownAtDestCheck check(m_store, m_dest.tree());
                m_store.move_dest_subtree(m_pair.id, from_id, from->rel(), *to,
                                          [&](const TransitStore::MovedOnto& entry) {
                                              // One marked damaged is made again (step 2), not
                                              // a delivered directory whose times are set back.
                                              if (check(entry) &&
                                                  (std::binary_search(pending.begin(), pending.end(), entry.old_id) ||
                                                   std::binary_search(pending.begin(), pending.end(), entry.new_id)) &&
                                                  m_store.forget_dir_times(entry.new_id)) {
                                                  m_times_only.add(entry.new_id);
                                              }
                                          });
                m_store.drop_dir_move(m_pair.id);
                tx.commit();
                drain_touched(false);
                ++m_result.renamed_dirs;
                if (m_progress) {
                    m_progress->item("renamed", to->rel() + "/");
                }
            });
        }
    }

    // Names placed at the destination by renames and links since the last
    // record_placed(): one barrier makes them durable, then one commit records the
    // new names delivered and forgets the old names the renames took over.
    struct Placed {
        std::vector<int64_t> delivered, forgotten;
    };
    void record_placed(Placed& p) {
        if (p.delivered.empty() && p.forgotten.empty()) {
            return;
        }
        m_dest.staging().renamed_barrier();
        Transaction tx(m_catalog.db());
        int64_t now = now_ns();
        for (int64_t id : p.delivered) {
            m_store.mark_delivered(id, now);
        }
        for (int64_t id : p.forgotten) {
            m_store.forget_entry(id);
        }
        tx.commit();
        p.delivered.clear();
        p.forgotten.clear();
        drain_touched(false);
    }

    // Files renamed or moved at the source: the destination's copy under the old
    // name is checked and renamed (no bytes copied, nothing left in the trash).
    // The old entry is forgotten in the same commit that records the new one.
    void move_renamed() {
        if (!m_store.any_gone(m_pair.id)) {
            return;
        }
        Placed placed;
        std::set<int64_t> used; // old entries taken since the last record
        // Old entries whose file an interrupted run had already moved to the new
        // name (found in place, unrecorded): not forgotten, so queries still
        // return them, and never taken again in this pass (the name is gone).
        std::set<int64_t> found_moved;
        auto record = [&] {
            record_placed(placed);
            used = found_moved; // the others forgotten or marked damaged: no query returns them again
        };
        try {
            std::string after_parent, after_name;
            for (;;) {
                auto page = m_store.renames(m_pair.id, after_parent, after_name, 256);
                if (page.empty() || stop_requested()) {
                    break;
                }
                after_parent = page.back().to.parent;
                after_name = page.back().to.name;
                for (RenameItem r : page) {
                    if (stop_requested()) {
                        break;
                    }
                    if (used.contains(r.from_id)) {
                        // Several files of one content renamed at once: what was moved is
                        // recorded (its old entry forgotten), then this one takes another
                        // old name, if one is left; else it is copied in the next pass.
                        record();
                        auto other = m_store.rename_source(r.to.entry_id);
                        if (!other || used.contains(other->first)) {
                            continue;
                        }
                        r.from_id = other->first;
                        r.from = other->second;
                    }
                    bool same = m_store.same_file(r.from_id, r.to);
                    if (!same && m_store.link_leader(m_pair.id, r.to)) {
                        // Another name of its own file leads (delivered, or first in
                        // path order): linked to it (link_names), not made a copy of
                        // another file that had this content. The old name goes with the deletions.
                        continue;
                    }
                    used.insert(r.from_id);
                    if (move_one(r, placed, same)) {
                        found_moved.insert(r.from_id);
                    }
                    if (placed.delivered.size() >= 512) {
                        record();
                    }
                }
            }
        } catch (const Stopped&) {
            record(); // what was renamed is recorded before the run ends
            throw;
        }
        record();
    }

    // `same`: the old name was the same source file (TransitStore::same_file).
    // True when the file was found in place under the new name.
    bool move_one(const RenameItem& r, Placed& placed, bool same) {
        const DeliveryItem& d = r.to;
        bool found = false;
        for_file(m_sink, d.entry_id, display(d), [&] {
            check_deliverable(d);
            // An interrupted run may have renamed it already: the old name is then
            // gone, and its deletion finds nothing to move.
            if (in_place(d, *d.content_hash)) {
                found = true;
                return;
            }
            // The same source file under a new name (a rename, a link moved) takes
            // the destination's copy even where it has other names (its link group);
            // another file with that content takes it only when it has none.
            auto how = m_dest.move_into_place(r.from, d, *d.content_hash, m_pipe, !same);
            if (how == Destination::FromCopy::shared) {
                return; // delivered with the other files (linked, or copied from it)
            }
            if (how != Destination::FromCopy::done) {
                copy_not_there(r.from_id, fmt::format(
                    "'{}' was renamed from '{}' at the source, but the destination's copy there "
                    "is {}: its content is carried again (or copied from another copy at the "
                    "destination)",
                    escape_bytes(display(d)), escape_bytes(display(r.from)),
                    how == Destination::FromCopy::missing ? "missing" : "damaged"));
                return;
            }
            placed.delivered.push_back(d.entry_id);
            placed.forgotten.push_back(r.from_id);
            ++m_result.renamed;
            if (m_progress) {
                m_progress->advance(1, static_cast<uint64_t>(d.st.size), d.rel());
                m_progress->item("renamed", d.rel());
            }
        });
        return found;
    }

    // Hard links (SPEC §6): the other names of a link group become links to its
    // first name at the destination, once that is delivered with this content.
    // Otherwise, or where the file system has no hard links, each is delivered as
    // a file of its own (copied from the first name when it is there).
    void link_names() {
        if (!m_deferred_links) {
            return;
        }
        // The deferred names are found again (the files still undelivered that
        // have a leader), not kept in memory: a tree of snapshots may hold millions.
        Placed linked;
        try {
            each_delivery({Kind::file}, [&](const DeliveryItem& d) {
                if (linked.delivered.size() >= 512) {
                    record_placed(linked);
                }
                auto leader = m_store.link_leader(m_pair.id, d);
                if (!leader) {
                    return; // waiting or failed in the pass before: nothing new to do
                }
                auto how = leader->delivered && !m_no_links
                               ? m_dest.link_into_place(leader->path, d, *d.content_hash, m_pipe)
                               : Destination::FromCopy::missing;
                if (how == Destination::FromCopy::done) {
                    linked.delivered.push_back(d.entry_id);
                    ++m_result.hard_links;
                    if (m_progress) {
                        m_progress->advance(1, static_cast<uint64_t>(d.st.size), d.rel());
                        m_progress->item("linked", d.rel());
                    }
                    return;
                }
                if (leader->delivered && !m_no_links &&
                    (how == Destination::FromCopy::missing || how == Destination::FromCopy::damaged)) {
                    // Not what was delivered there: delivered again (SPEC §7.4).
                    copy_not_there(leader->id, fmt::format(
                        "'{}' is a hard link to '{}', whose copy at the destination is {}: that "
                        "is delivered again, and this name linked to it then",
                        escape_bytes(display(d)), escape_bytes(display(leader->path)),
                        how == Destination::FromCopy::missing ? "missing" : "damaged"));
                    ++m_result.waiting;
                    return;
                }
                if (how == Destination::FromCopy::unsupported && !m_no_links) {
                    m_no_links = true;
                    m_result.notes.push_back(fmt::format(
                        "the destination '{}' cannot hold hard links: names that share a file "
                        "at the source arrive as separate copies",
                        escape_bytes(m_pair.dest)));
                }
                deliver(d, 1);
            });
        } catch (const Stopped&) {
            record_placed(linked);
            throw;
        }
        m_transfer.flush();
        record_placed(linked);
    }

    // Symlinks and special files (FIFOs, device nodes): made under a temporary
    // name with their metadata, placed, and recorded after one barrier.
    // Recorded 4096 at a time (at the end of a page), each batch once its
    // renames are durable: a million symlinks are never all held, nor the
    // paths of the directories they went into.
    void deliver_links_and_nodes() {
        std::vector<DeliveryItem> placed;
        auto record = [&] {
            if (placed.empty()) {
                return;
            }
            m_dest.staging().renamed_barrier();
            Transaction tx(m_catalog.db());
            for (const auto& d : placed) {
                m_store.mark_delivered(d.entry_id, now_ns());
                bool link = d.st.kind == Kind::symlink;
                ++(link ? m_result.symlinks : m_result.special_files);
                if (m_progress) {
                    m_progress->item(link ? "symlink" : "special file", d.rel());
                }
            }
            tx.commit();
            placed.clear();
            drain_touched(false);
        };
        each_delivery(
            {Kind::symlink, Kind::fifo, Kind::chardev, Kind::blockdev},
            [&](const DeliveryItem& d) {
                if (d.st.kind == Kind::symlink) {
                    m_dest.make_symlink(d);
                } else {
                    m_dest.make_node(d);
                }
                placed.push_back(d);
            },
            {},
            [&] {
                if (placed.size() >= 4096) {
                    record();
                }
            });
        record();
    }

    // One note per run for the extended attributes the destination could not take.
    void xattr_notes() {
        if (m_dest.xattrs_unsupported() > 0) {
            m_result.notes.push_back(fmt::format(
                "the destination '{}' cannot hold extended attributes (or ACLs): {} arrived "
                "without them",
                escape_bytes(m_pair.dest), plural(m_dest.xattrs_unsupported(), "file")));
        }
        if (m_dest.xattrs_refused() > 0) {
            m_result.notes.push_back(fmt::format(
                "{} could not be set at the destination '{}' (not permitted: trusted.* and "
                "security.* attributes and ACLs need root)",
                plural(m_dest.xattrs_refused(), "extended attribute"), escape_bytes(m_pair.dest)));
        }
        if (m_dest.xattrs_rejected() > 0) {
            m_result.notes.push_back(fmt::format(
                "{} rejected by the destination '{}' (too large for its file system, or a "
                "security label its policy does not accept): the files arrived without them",
                plural(m_dest.xattrs_rejected(), "extended attribute"), escape_bytes(m_pair.dest)));
        }
    }

    // A page at a time, each committed once its moves to the trash are durable:
    // a stop between pages leaves the rest to the next run.
    void apply_deletions() {
        int64_t other_spelling = 0;
        m_store.each_deletion_page(m_pair.id, 4096, [&](std::vector<DeliveryItem>& page) {
            if (stop_requested()) {
                return false;
            }
            Transaction tx(m_catalog.db());
            for (const auto& d : page) {
                for_file(m_sink, d.entry_id, display(d), [&] {
                    DestTree::check_path(d.parent, d.name);
                    auto done = m_pair.on_delete == OnDelete::trash ? m_dest.trash(d)
                                                                    : Destination::Trashed::nothing;
                    bool trashed = done == Destination::Trashed::moved;
                    m_result.trashed += trashed ? 1 : 0;
                    other_spelling += done == Destination::Trashed::other_spelling ? 1 : 0;
                    m_result.forgotten += m_pair.on_delete == OnDelete::trash ? 0 : 1;
                    if (m_progress && d.d_kind != Kind::dir) {
                        m_progress->item(trashed ? "trashed" : "kept", d.rel());
                    }
                    // Its children came first (the pages run in reverse path
                    // order). A directory still standing above rows the catalog
                    // keeps (ones learned from another drive and not yet ordered,
                    // or not deletable this run) keeps its row too, so that a
                    // later unload removes it once they are gone: forgotten, no
                    // run of any drive would name it again.
                    if (done == Destination::Trashed::kept_dir &&
                        m_store.has_rows_below(m_pair.id, d.rel())) {
                        return;
                    }
                    m_store.forget_entry(d.entry_id);
                });
            }
            m_dest.staging().renamed_barrier();
            tx.commit();
            drain_touched(false);
            return true;
        });
        if (other_spelling > 0) {
            m_result.notes.push_back(fmt::format(
                "{} deleted at the source not moved to the trash: what answers to {} at '{}' "
                "is another spelling (a case-insensitive file system), left as it is",
                plural(other_spelling, "name"), other_spelling == 1 ? "it" : "them",
                escape_bytes(m_pair.dest)));
        }
    }

    // The directories the destination saw this run write into, from their paths
    // to their entry ids, once there are touched_drain of them or (all) when
    // asked. Whether each is delivered is asked at the end (dir_metadata): a
    // renamed directory's move may deliver one later. An unload adds no entry,
    // so a path names the same entry until a deletion forgets it. On this
    // thread only: the catalog is read.
    void drain_touched(bool all) {
        if (!all && m_dest.touched_count() < touched_drain) {
            return;
        }
        for (const auto& t : m_dest.take_touched()) {
            if (t.empty()) {
                continue; // the root's times are never set
            }
            // A directory at the source, or one the destination holds where
            // this drive's scan found a file or nothing (of those,
            // dir_metadata sets only the journaled, superseded ones back).
            if (auto d = m_store.dir_at(m_pair.id, t)) {
                m_touched.add(d->id);
            }
        }
    }

    void dir_metadata() {
        // Directories this run wrote into got a new mtime from the kernel: give them
        // back their own, unless they are delivered below anyway.
        drain_touched(true);
        if (m_dirs.empty() && m_touched.empty()) {
            return;
        }
        std::sort(m_dirs.begin(), m_dirs.end(),
                  [](const MadeDir& a, const MadeDir& b) { return a.entry_id < b.entry_id; });
        auto made = [&](int64_t id) {
            auto it = std::lower_bound(m_dirs.begin(), m_dirs.end(), id,
                                       [](const MadeDir& m, int64_t v) { return m.entry_id < v; });
            return it != m_dirs.end() && it->entry_id == id;
        };
        Transaction tx(m_catalog.db());
        bool written = !m_dirs.empty();
        for (int64_t id : m_touched.sorted()) {
            if (made(id)) {
                continue;
            }
            // Read again: a deletion of this run may have forgotten it since.
            // One another drive delivered after this drive's scan of it gets
            // that delivery's state back, not this drive's older view.
            bool newer = std::binary_search(m_newer_dirs.begin(), m_newer_dirs.end(), id);
            auto d = newer ? m_store.delivered_dir(id) : m_store.dir_entry_by_id(id);
            if (!d || d->d_kind != Kind::dir) {
                continue;
            }
            written = true;
            if (!set_dir_back(*d)) {
                // Its mtime is the kernel's now (a symlink stood in the way, ...):
                // the next unload sets it, as for a directory not yet delivered.
                m_store.forget_set_back_times(d->entry_id);
            }
        }
        m_touched.clear();
        // Deepest first: setting a child's times does not disturb its parent's.
        std::sort(m_dirs.begin(), m_dirs.end(), [](const MadeDir& a, const MadeDir& b) {
            return a.depth != b.depth ? a.depth > b.depth : a.entry_id < b.entry_id;
        });
        const std::vector<int64_t>& times_only = m_times_only.sorted();
        for (const auto& m : m_dirs) {
            auto found = m_store.dir_entry_by_id(m.entry_id);
            if (!found) {
                continue; // not a directory of the catalog's any more
            }
            const DeliveryItem& d = *found;
            for_file(m_sink, d.entry_id, display(d), [&] {
                m_dest.set_dir_metadata(d);
                m_store.mark_delivered(d.entry_id, now_ns());
                if (std::binary_search(times_only.begin(), times_only.end(), d.entry_id)) {
                    return; // delivered before: only its times were set back
                }
                ++m_result.dirs;
                if (m_progress) {
                    m_progress->item("directory", d.rel());
                }
            });
        }
        if (!written) {
            return; // nothing was restored or delivered here
        }
        m_dest.staging().renamed_barrier();
        tx.commit();
    }

    DestOrder& m_order;
    Catalog& m_catalog;
    TransitStore m_store;
    Cargo m_cargo;
    const Pair& m_pair;
    UnloadResult& m_result;
    Progress* m_progress;
    Destination m_dest;
    int64_t m_piece_size;
    HashPipeline m_pipe;
    ErrorSink m_sink;
    AssemblyCounts m_assembly;
    Assembler m_assembler;
    int64_t m_pending_bytes = 0;
    std::optional<int64_t> m_free; // see room_for()
    // The directories this run made or delivered again, and those it forgot the
    // times of before making a name in them: 16 bytes each (read back
    // from the catalog when their times are set), not a whole item each.
    struct MadeDir {
        int64_t entry_id;
        std::ptrdiff_t depth;
    };
    std::vector<MadeDir> m_dirs;
    IdSet m_times_only; // delivered directories whose times this run sets back
    // Parents of what it may change that another drive delivered after this
    // drive's scan of them (journaled: TransitStore::record_dir_times), by id.
    std::vector<int64_t> m_newer_dirs;
    IdSet m_pending_parents; // parents of what it may change that a move may deliver (see run())
    IdSet m_touched; // directories it wrote into (drain_touched), by entry id
    std::map<std::string, int64_t> m_not_dir_ord; // older_than_what_stands, per directory
    size_t m_dir_ord_limit = dir_ord_memo;
    bool m_deferred_links = false;     // names of link groups wait for link_names()
    bool m_no_links = false;           // the destination refused a hard link
    bool m_reflink = true;             // until the destination refuses FICLONE
    // Last: destroyed first, so a batch still in flight finishes before the
    // members it uses go away.
    Transfer<DeliveredFile> m_transfer;
};

} // namespace

// What an unload would do now (SPEC §5 dry run), read from the catalog, the
// cargo and the destination, changing nothing.
void plan_unload(Catalog& catalog, const Pair& pair, DestState state, UnloadResult& r) {
    TransitStore store(catalog.db());
    int64_t piece_size = static_cast<int64_t>(catalog.piece_size());
    if (state == DestState::claimable) {
        r.notes.push_back(fmt::format("'{}' would be claimed as the destination (its marker "
                                      "written, the directory made if missing)",
                                      escape_bytes(pair.dest)));
    }
    std::optional<DestTree> tree;
    if (state == DestState::visible) {
        tree.emplace(pair.dest);
    }
    // Whether something already stands at the entry's path (it would be kept as an old version).
    auto stands = [&](const EntryPath& e) {
        if (!tree || !DestTree::is_safe(e.parent, e.name)) {
            return false;
        }
        Fd parent = open_beneath(tree->fd(), e.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        struct stat st{};
        return parent && ::fstatat(parent.get(), e.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    };
    // The destination's order record, read only (a dry run takes no lock and
    // merges nothing): an entry older than what another drive delivered there
    // would be kept in versions/ instead (SPEC §7.12).
    std::optional<Database> order;
    struct stat ost{};
    std::string order_path = DestOrder::path(pair.dest, pair.uuid);
    if (state == DestState::visible && ::stat(order_path.c_str(), &ost) == 0) {
        order.emplace(order_path, Database::Create::no);
    }
    auto newer_there = [&](const DeliveryItem& d) {
        if (!order) {
            return false;
        }
        Statement st = order->prepare("SELECT ord FROM paths WHERE parent = ? AND name = ?");
        st.bind_blob(1, d.parent).bind_blob(2, d.name);
        bool newer = st.step() && st.column_int(0) > d.ord;
        st.reset();
        return newer;
    };
    auto line = [&](const EntryPath& e, int64_t bytes, bool goes, std::string why) {
        r.plan.add({join_path(pair.dest, e.rel()), bytes, goes, std::move(why)});
    };
    // Page by page in path order, as the unload itself reads them: a plan of
    // millions of entries holds one page at a time (SPEC §8).
    auto each = [&](const std::vector<Kind>& kinds, const std::function<void(const DeliveryItem&)>& f) {
        store.each_delivery_page(pair.id, kinds, 4096, [&](std::vector<DeliveryItem>& page) {
            for (const auto& d : page) {
                f(d);
            }
            return true;
        });
    };
    each({Kind::dir}, [&](const DeliveryItem& d) {
        line(d, 0, true, stands(d) ? "directory (exists)" : "new directory");
    });
    each({Kind::file}, [&](const DeliveryItem& d) {
        int64_t pieces = d.st.size == 0 ? 0 : (d.st.size + piece_size - 1) / piece_size;
        std::string why;
        bool goes = true;
        if (!d.content_id) {
            goes = false;
            why = "not on the cargo yet (waits for a load)";
        } else if (auto local = store.held_at_dest(d.entry_id, *d.content_id)) {
            why = local->id == d.entry_id
                      ? std::string("its content is at the destination: only its metadata changed")
                      : fmt::format("renamed, linked or copied from '{}', already at the destination "
                                    "(no cargo bytes)",
                                    escape_bytes(local->rel));
        } else if (pieces == 0) {
            why = "empty file";
        } else {
            ContentOnCargo here = store.on_cargo(pair.id, *d.content_id, pieces);
            int64_t have = pieces - static_cast<int64_t>(here.missing().size());
            if (here.whole_on_cargo()) {
                why = "from the cargo";
            } else if (here.complete()) {
                why = "completes its assembly from the cargo";
            } else {
                goes = false;
                why = fmt::format("{} of {} pieces on the drive: the rest comes on later trips",
                                  have, pieces);
            }
        }
        if (goes && newer_there(d)) {
            why = "older than the version another drive delivered there: it would be kept in "
                  ".barge/versions, the newer left in place";
        } else if (goes && stands(d)) {
            why += "; what stands there is kept in .barge/versions";
        }
        line(d, d.st.size, goes, why);
    });
    each({Kind::symlink}, [&](const DeliveryItem& d) {
        line(d, 0, true, "symlink to '" + escape_bytes(d.st.target) + "'");
    });
    each({Kind::fifo, Kind::chardev, Kind::blockdev}, [&](const DeliveryItem& d) {
        Kind k = d.st.kind;
        line(d, 0, true,
             k == Kind::fifo ? std::string("FIFO")
                             : fmt::format("{} device {}", k == Kind::chardev ? "character" : "block",
                                           device_number_text(d.st.rdev)));
    });
    store.each_deletion_page(pair.id, 4096, [&](std::vector<DeliveryItem>& page) {
        for (const auto& d : page) {
            if (d.d_kind == Kind::dir) {
                line(d, 0, true, "deleted at the source: the directory is removed once empty");
            } else if (pair.on_delete == OnDelete::trash) {
                line(d, 0, true, "deleted at the source: moves to .barge/trash");
            } else {
                line(d, 0, true, "deleted at the source: stays at the destination (--on-delete keep)");
            }
        }
        return true;
    });
}

UnloadResult unload_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                         const UnloadOptions& options, Progress* progress) {
    UnloadResult result;
    DestState state = dest_state(pair);
    if (state == DestState::not_visible && pair.dest_claimed_ns) {
        throw dest_marker_missing(pair);
    }
    if (state != DestState::visible) {
        check_claimable(pair); // throws the reason it cannot be claimed
    }
    if (options.dry_run) {
        result.dry_run = true;
        plan_unload(catalog, pair, state, result);
        return result;
    }
    if (state == DestState::claimable) {
        claim_destination(catalog, pair);
        result.claimed = true;
    }
    catalog.set_seen(pair.id, End::dest, machine_id(), now_ns());
    if (auto note = finish_dir_move(catalog, pair)) {
        result.notes.push_back(std::move(*note));
    }
    DestOrder order(pair);
    bool rotation = false;
    {
        KnowledgeMerge k = learn_at_destination(catalog, pair, order, options.copy_keys);
        rotation = k.drives_known > 0;
        result.learned = k.entries_learned;
        for (auto& n : k.notes) {
            result.notes.push_back(std::move(n));
        }
    }
    if (rotation) {
        // Only another drive's delivery splits a group (a single drive links
        // each new name to the delivered one). About 2 s per 10 million
        // entries, the inode index read once (docs/unload.md step 0).
        Transaction tx(catalog.db());
        int64_t split = check_link_groups(catalog, pair);
        tx.commit();
        if (split > 0) {
            result.notes.push_back(fmt::format("{} of a link group at the source {} a file of {} own at the "
                                               "destination (two drives each delivered one name): linked "
                                               "again (named at --verbose)",
                                               plural(split, "name"), split == 1 ? "was" : "were",
                                               split == 1 ? "its" : "their"));
        }
    }
    Pair fresh = catalog.find_pair(pair.name).value_or(pair);
    {
        Unloader u(catalog, layout, fresh, options, result, progress, order);
        u.run();
    }
    return result;
}

} // namespace barge
