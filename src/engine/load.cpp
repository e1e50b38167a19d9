#include "barge/engine/load.hpp"

#include "barge/catalog/contents.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/error_sink.hpp"
#include "barge/engine/status.hpp"
#include "barge/engine/transfer.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/read_ahead.hpp"
#include "barge/fs/space.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <set>
#include <sys/statvfs.h>

namespace barge {

namespace {

int64_t round_up(int64_t n, int64_t block) {
    return block <= 1 ? n : (n + block - 1) / block * block;
}

// One piece of a file carried this trip.
struct PieceCopy {
    Digest hash{};
    int64_t size = 0;
    int64_t idx = 0;
    int64_t offset = 0;
    bool duplicate = false; // already on the cargo (or written by this batch): not written again
};

// A file copied to the cargo's tmp/, on its way through the transfer pipeline:
// its written pieces are the pipeline's Written files, in the order of `pieces`
// minus the duplicates.
struct CopiedFile : TransferItem {
    LoadCandidate cand;
    Digest content_hash{};
    int64_t pieces_total = 0;
    bool racy = false;
    std::vector<PieceCopy> pieces;
};

const char* const stealthy_change_reason =
    "its bytes no longer match the hash recorded by an earlier scan although its size, "
    "mtime, ctime and inode are unchanged: bit rot on the source disk, or a change that hid "
    "its tracks. Not carried; check this file (a backup copy may be the good one)";

class Loader : public Transfer<CopiedFile>::Client {
public:
    Loader(Catalog& catalog, const DriveLayout& layout, const Pair& pair, const LoadOptions& options,
           LoadResult& result, Progress* progress)
        : m_catalog(catalog), m_store(catalog.db()), m_cargo(layout), m_layout(layout),
          m_pair(pair), m_options(options), m_result(result), m_progress(progress),
          m_piece_size(static_cast<int64_t>(catalog.piece_size())), m_pipe(read_block),
          m_sink("load " + pair.name, result.failures, result.notes,
                 [this](int64_t entry, const std::string& reason) {
                     m_store.set_failure(entry, reason, now_ns());
                 }),
          m_policy{options.attempts}, m_transfer(m_cargo.tmp(), *this, m_sink, m_policy) {
        m_sink.on_miss([this](int64_t entry) {
            m_missed.emplace_back(entry, now_ns());
            note_misses_at(miss_batch);
        });
        m_src = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
        struct statvfs sv{};
        if (::fstatvfs(m_cargo.dirfd(), &sv) == 0) {
            m_block = static_cast<int64_t>(sv.f_bsize);
        }
        // A limit above what an int64_t holds (parse_size takes up to 2^64) is none.
        m_limit = options.max_bytes ? static_cast<int64_t>(std::min<uint64_t>(*options.max_bytes, INT64_MAX))
                                    : INT64_MAX;
        m_budget = m_limit;
        if (m_cargo.encrypted()) {
            // Pieces read back are authenticated and decrypted, their plaintext hashed.
            m_transfer.filter_read_back([this] { return m_cargo.read_filter(); });
        }
        refresh_room();
    }

    // Fills the cargo; a stop request abandons the file being copied and keeps
    // what was verified (result.interrupted).
    void run() {
        try {
            fill();
        } catch (const Stopped&) {
            // the file in progress was abandoned; its temporary pieces are gone
        }
        flush();
        note_misses();
        m_result.interrupted = stop_requested();
        if (m_options.max_bytes) {
            m_result.budget_used = m_limit - m_budget;
        }
    }

    // A file that does not fit what is left this trip: the drive is full, or
    // --max-bytes is reached when what it leaves is less than the room.
    void out_of_room() { (m_budget < m_room ? m_result.max_bytes_reached : m_result.drive_full) = true; }

    void fill() {
        std::string after_parent, after_name;
        bool first = true;
        std::optional<ReadAhead> ahead;
        if (!m_options.dry_run) {
            ahead.emplace(m_src.get(), ReadAhead::Window{});
        }
        for (;;) {
            auto page = m_store.load_candidates(m_pair.id, after_parent, after_name, 256);
            if (first && !page.empty() && m_progress) {
                // The total is what waits, or what fits this trip when that is less
                // (then the number of files that fit is not known in advance).
                PairStatus ps = pair_status(m_catalog, m_pair, 0);
                int64_t fits = std::min(m_trip_room, m_budget);
                bool all = ps.pending.bytes <= fits;
                m_progress->phase("load", all ? static_cast<uint64_t>(ps.pending.files) : 0,
                                  static_cast<uint64_t>(std::max<int64_t>(0, all ? ps.pending.bytes : fits)));
            }
            first = false;
            if (page.empty()) {
                break;
            }
            after_parent = page.back().parent;
            after_name = page.back().name;
            if (ahead) {
                for (const auto& c : page) {
                    ahead->add(c.rel(), c.st.size);
                }
            }
            for (auto& c : page) {
                if (stop_requested() || m_stopped) {
                    break;
                }
                if (ahead) {
                    ahead->next();
                }
                consider(std::move(c));
            }
            if (stop_requested() || m_stopped) {
                break;
            }
        }
    }

    // Transfer<CopiedFile>::Client: the verifier thread renames a file's new
    // pieces to their content addresses.
    void place(CopiedFile& f) override {
        for (auto& w : f.written) {
            m_cargo.commit(w.file, w.expected);
        }
    }

    // One catalog commit for a verified, durable batch.
    void commit(std::vector<CopiedFile>& good) override {
        Transaction tx(m_catalog.db());
        note_misses(); // inside this transaction: no commit of their own
        for (auto& f : good) {
            int64_t cid = upsert_content(m_catalog.db(), f.content_hash, f.cand.st.size, f.pieces_total);
            if (!f.cand.content_id || *f.cand.content_id != cid) {
                m_store.set_entry_content(f.cand.entry_id, cid, f.racy);
            }
            for (const auto& p : f.pieces) {
                m_store.record_piece(p.hash, p.size, cid, p.idx, p.offset);
                m_result.pieces += p.duplicate ? 0 : 1;
            }
            m_store.clear_failure(f.cand.entry_id);
            if (!f.pieces.empty() && f.written.empty()) {
                ++m_result.deduplicated; // its content was already on the cargo
                continue;
            }
            ++m_result.files;
            m_result.bytes += f.cand.st.size;
            if (m_progress) {
                m_progress->advance(1, static_cast<uint64_t>(f.cand.st.size), f.cand.rel());
                m_progress->item("carried", f.cand.rel());
            }
        }
        tx.commit();
    }

    void retry(CopiedFile&& f) override { copy_and_queue(std::move(f.cand), f.attempt); }

    void failed(CopiedFile& f, const std::string& reason) override {
        m_sink.fail(f.cand.entry_id, display(f.cand), reason);
    }

    std::string mismatch(const CopiedFile& f, size_t index) override {
        size_t k = 0;
        int64_t idx = 0;
        for (const auto& p : f.pieces) {
            if (!p.duplicate && k++ == index) {
                idx = p.idx;
                break;
            }
        }
        return fmt::format("piece {} read back from the drive does not match what was written "
                           "(the drive or its connection corrupts data)",
                           idx);
    }

    std::string describe(const CopiedFile& f) override { return display(f.cand); }

private:
    std::string display(const LoadCandidate& c) const { return join_path(m_pair.source, c.rel()); }

    void flush() { m_transfer.flush(); }

    void refresh_room() {
        DriveRoom r = drive_room(m_layout, m_pair);
        m_room = r.room();
        // What a trip could hold if every piece on the cargo were reclaimed.
        CargoStatus cs = cargo_status(m_catalog, m_layout);
        m_trip_room = m_room + static_cast<int64_t>(cs.used_bytes);
        m_result.room = fmt::format("{}; {} on the cargo could be reclaimed", r.explain(),
                                    format_size(cs.used_bytes));
        m_result.reserve_too_big = r.reserve_too_big();
    }

    // A file whose content this load found on the cargo or at the destination
    // (hashed by an earlier scan) is carried: no longer missed (commit() clears
    // the misses of a file it copies). Queued as the misses are.
    void carried_without_copy(const LoadCandidate& c) {
        if (c.missed) {
            m_unmissed.push_back(c.entry_id);
            note_misses_at(miss_batch);
        }
    }

    // Files that changed while read (ErrorSink::on_miss), and missed files
    // carried without a copy, written to the catalog in one transaction with
    // the next commit of copied files, at the end of the run, or every
    // miss_batch: one transaction each cost a synced commit per file (3,000
    // files deleted during a load: 12,022 fdatasyncs). A run that ends before
    // it writes them (killed, or stopped by an error) loses them: the next run
    // sees the files again.
    static constexpr size_t miss_batch = 4096;
    void note_misses_at(size_t queued) {
        if (m_missed.size() + m_unmissed.size() < queued) {
            return;
        }
        Transaction tx(m_catalog.db());
        for (auto [id, when] : m_missed) {
            m_store.note_miss(id, when);
        }
        for (int64_t id : m_unmissed) {
            m_store.clear_failure(id);
        }
        tx.commit();
        m_missed.clear();
        m_unmissed.clear();
    }
    void note_misses() { note_misses_at(1); }

    // Decides what to do with one candidate and queues its copy.
    void consider(LoadCandidate c) {
        if (m_options.dry_run) {
            plan(c);
            return;
        }
        if (c.st.size == 0) {
            CopiedFile f;
            f.cand = std::move(c);
            f.content_hash = blake2b("");
            add(std::move(f));
            return;
        }
        if (!c.content_id && c.same_as_delivered) {
            // Its mode, owner or attributes changed (its ctime moved): hashed at
            // the source first, so that unchanged content is not carried again.
            bool hashed = false;
            for_file(m_sink, c.entry_id, display(c), [&] { hashed = hash_first(c); });
            if (!hashed) {
                return;
            }
        }
        if (held_at_dest(c)) {
            ++m_result.at_destination;
            carried_without_copy(c);
            return;
        }
        std::vector<int64_t> needed = needed_pieces(c);
        if (needed.empty()) {
            ++m_result.deduplicated;
            carried_without_copy(c);
            return;
        }
        int64_t need = needed_bytes(c, needed);
        if (need > std::min(m_room, m_budget) && !m_reclaimed && need <= m_budget) {
            flush(); // the catalog must be current before deciding what is reclaimable
            auto [n, bytes] = reclaim_pieces(m_catalog, m_layout);
            m_result.reclaimed_pieces += n;
            m_result.reclaimed_bytes += bytes;
            m_reclaimed = true;
            refresh_room();
        }
        if (need > std::min(m_room, m_budget)) {
            int64_t whole = on_drive(c.st.size);
            bool never_fits_one_trip = whole > m_trip_room;
            if (!never_fits_one_trip || m_budget < m_piece_size) {
                // It fits an emptier drive: leave it for a later trip, smaller files still go.
                out_of_room();
                return;
            }
            // Larger than a whole trip: carry the pieces that fit now.
            if (!c.content_id) {
                bool hashed = false;
                for_file(m_sink, c.entry_id, display(c), [&] { hashed = hash_first(c); });
                if (!hashed) {
                    return;
                }
                needed = needed_pieces(c);
            }
            std::vector<int64_t> fits;
            int64_t total = 0;
            for (int64_t idx : needed) {
                int64_t sz = on_drive(piece_len(c, idx));
                if (total + sz > std::min(m_room, m_budget)) {
                    break;
                }
                total += sz;
                fits.push_back(idx);
            }
            out_of_room();
            if (fits.empty()) {
                return;
            }
            needed = std::move(fits);
            need = total;
        }
        m_room -= need;
        m_budget -= need;
        copy_and_queue(std::move(c), 1, needed);
    }

    // A rename, move or duplicate of content the destination holds: unload
    // renames or copies it there, no bytes travel (SPEC §6).
    bool held_at_dest(const LoadCandidate& c) {
        return c.content_id && m_store.held_at_dest(c.entry_id, *c.content_id);
    }

    void plan(const LoadCandidate& c) {
        PlanLine line{display(c), c.st.size, false, ""};
        if (held_at_dest(c)) {
            return; // renamed or copied at the destination by unload
        }
        std::vector<int64_t> needed = c.st.size == 0 ? std::vector<int64_t>{} : needed_pieces(c);
        if (c.st.size > 0 && needed.empty()) {
            return; // already on the cargo
        }
        int64_t need = needed_bytes(c, needed);
        if (!m_reclaimed && need > m_room) {
            m_store.each_reclaimable_piece(4096, [&](std::vector<PieceRow>& page) {
                for (const auto& p : page) {
                    m_room += on_drive(p.size);
                }
                return true;
            });
            m_reclaimed = true;
        }
        if (need <= std::min(m_room, m_budget)) {
            line.goes = true;
            m_room -= need;
            m_budget -= need;
        } else if (on_drive(c.st.size) > m_trip_room) {
            line.why = "larger than a whole trip: goes piece by piece over several trips";
            line.goes = m_room >= m_piece_size;
            if (line.goes) {
                m_room = 0;
            }
        } else {
            line.why = need > m_budget
                           ? "over --max-bytes"
                           : fmt::format("does not fit this trip: needs {}, the room is {} ({})",
                                         format_size(static_cast<uint64_t>(need)),
                                         format_size(static_cast<uint64_t>(std::max<int64_t>(m_room, 0))),
                                         m_result.room);
        }
        m_result.plan.add(line);
    }

    int64_t piece_count(const LoadCandidate& c) const {
        return c.st.size == 0 ? 0 : (c.st.size + m_piece_size - 1) / m_piece_size;
    }

    int64_t piece_len(const LoadCandidate& c, int64_t idx) const {
        return std::min(m_piece_size, c.st.size - idx * m_piece_size);
    }

    // What a piece (or file) of `plain` bytes takes on the drive: whole blocks, of
    // the encrypted piece on an encrypted drive.
    int64_t on_drive(int64_t plain) const { return round_up(m_cargo.stored_size(plain), m_block); }

    int64_t needed_bytes(const LoadCandidate& c, const std::vector<int64_t>& needed) const {
        int64_t total = 0;
        for (int64_t idx : needed) {
            total += on_drive(piece_len(c, idx));
        }
        return total;
    }

    // The pieces of c that are neither on the cargo nor staged at the destination.
    std::vector<int64_t> needed_pieces(const LoadCandidate& c) {
        if (!c.content_id) {
            std::vector<int64_t> all(static_cast<size_t>(piece_count(c)));
            for (size_t i = 0; i < all.size(); ++i) {
                all[i] = static_cast<int64_t>(i);
            }
            return all;
        }
        return m_store.on_cargo(m_pair.id, *c.content_id, piece_count(c)).missing();
    }

    Fd open_source(const LoadCandidate& c) {
        // O_NONBLOCK: a FIFO put in the file's place since the scan must not
        // hang the load until a writer comes (its stat then differs: a note).
        Fd fd = open_noatime_beneath(m_src.get(), c.rel(), O_NONBLOCK);
        if (!fd) {
            int err = errno;
            // Gone, replaced by a symlink, or under a directory that became a
            // file or symlink since the scan: the next scan sees it
            // (changing_source.sh).
            throw FileError(fmt::format("open: {}", std::strerror(err)),
                            nothing_there(err) ? FileError::Retry::later
                            : err == EIO || err == EINTR || err == EAGAIN ? FileError::Retry::yes
                                                                          : FileError::Retry::no);
        }
        return fd;
    }

    // Opens the source file and checks it is the one the scan saw.
    Fd open_unchanged(const LoadCandidate& c, FileStat& before) {
        Fd fd = open_source(c);
        before = stat_fd(fd.get(), display(c));
        if (!same_file_stat(before, c.st)) {
            throw FileError("changed since the scan", FileError::Retry::later);
        }
        return fd;
    }

    // A file larger than a whole trip travels over several trips, so its whole-file
    // hash must be known before its first piece goes: one extra read of that file.
    bool hash_first(LoadCandidate& c) {
        FileStat before;
        Fd fd = open_unchanged(c, before);
        uint64_t n = 0;
        Digest d = hash_fd(fd.get(), m_pipe, n, display(c));
        FileStat after = stat_fd(fd.get(), display(c));
        if (!same_file_stat(after, before) || static_cast<int64_t>(n) != before.size) {
            throw FileError("changed while being read", FileError::Retry::later);
        }
        Transaction tx(m_catalog.db());
        int64_t cid = upsert_content(m_catalog.db(), d, c.st.size, piece_count(c));
        m_store.set_entry_content(c.entry_id, cid, false);
        tx.commit();
        c.content_id = cid;
        c.content_hash = d;
        return true;
    }

    // Copies c (transient errors tried again) and queues it for verification. A
    // full drive ends the trip: this file waits.
    void copy_and_queue(LoadCandidate c, int attempt, std::vector<int64_t> needed = {}) {
        if (needed.empty()) {
            needed = needed_pieces(c);
        }
        try {
            for (;; ++attempt) {
                try {
                    CopiedFile f = copy(c, needed);
                    f.attempt = attempt;
                    add(std::move(f));
                    return;
                } catch (const Error& e) {
                    if (e.stops_run() || !RetryPolicy::transient(e) || !m_policy.again(attempt)) {
                        throw;
                    }
                    m_sink.retrying(display(c), e.what(), attempt, m_policy.attempts);
                }
            }
        } catch (const MediumError& e) {
            if (e.err() != ENOSPC) {
                throw; // the drive failed: stop the run
            }
            // The estimate of free space was off (file-system overhead): this
            // file waits, and the trip ends here.
            m_result.drive_full = true;
            m_stopped = true;
        } catch (const Error& e) {
            m_sink.handle(c.entry_id, display(c), e);
        }
    }

    void add(CopiedFile f) { m_transfer.add(std::move(f)); }

    // Reads the needed pieces of c, hashing while writing them to temporary files
    // on the cargo. Throws FileError/ReadError for the source, MediumError for the drive.
    CopiedFile copy(const LoadCandidate& c, const std::vector<int64_t>& needed) {
        CopiedFile f;
        f.cand = c;
        f.bytes = c.st.size;
        f.pieces_total = piece_count(c);
        int64_t started = now_ns();
        FileStat before;
        Fd fd = open_unchanged(c, before);
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        bool whole = static_cast<int64_t>(needed.size()) == f.pieces_total;
        bool multi = f.pieces_total > 1;
        std::map<int64_t, Digest> known_pieces;
        if (c.content_id) {
            for (const auto& cp : m_store.content_pieces(*c.content_id)) {
                known_pieces[cp.idx] = cp.piece.hash;
            }
        }
        std::set<Digest> mine; // pieces this file writes itself
        // Reading and writing here, hashing on the pipeline's thread: both cores work.
        m_pipe.reset();
        m_pipe.track_total(whole && multi);
        for (int64_t idx : needed) {
            PieceCopy p{{}, piece_len(c, idx), idx, idx * m_piece_size, false};
            TempFile tmp = m_transfer.create("", ".part", m_cargo.stored_size(p.size), 0644);
            uint64_t n = copy_through(m_pipe, fd.get(), p.offset, p.size, display(c),
                                      &m_cargo.piece_sink(tmp), 0);
            p.hash = m_pipe.finish();
            if (static_cast<int64_t>(n) < p.size) {
                throw FileError("changed while being read (it shrank)", FileError::Retry::later);
            }
            if (auto it = known_pieces.find(idx); it != known_pieces.end() && it->second != p.hash) {
                throw FileError(stealthy_change_reason);
            }
            auto existing = m_store.piece_by_hash(p.hash);
            bool in_batch = m_transfer.batch_writes(p.hash);
            p.duplicate = (existing && existing->on_cargo) || in_batch || mine.contains(p.hash);
            if (p.duplicate) {
                if (in_batch) {
                    f.relies_on.push_back(p.hash);
                }
                tmp.discard();
            } else {
                int64_t stored = m_cargo.finish_piece(p.size);
                tmp.finish();
                mine.insert(p.hash);
                f.written.push_back({std::move(tmp), p.hash, stored});
            }
            f.pieces.push_back(p);
        }
        FileStat after = stat_fd(fd.get(), display(c));
        if (!same_file_stat(after, before)) {
            throw FileError("changed while being read", FileError::Retry::later);
        }
        if (whole) {
            f.content_hash = multi ? m_pipe.finish_total() : f.pieces.front().hash;
            if (c.content_hash && *c.content_hash != f.content_hash) {
                throw FileError(stealthy_change_reason);
            }
        } else {
            f.content_hash = *c.content_hash; // a multi-trip file: hashed before its first piece
        }
        f.racy = before.mtime_ns >= started - racy_margin_ns;
        return f;
    }

    Catalog& m_catalog;
    TransitStore m_store;
    Cargo m_cargo;
    const DriveLayout& m_layout;
    const Pair& m_pair;
    const LoadOptions& m_options;
    LoadResult& m_result;
    Progress* m_progress;
    int64_t m_piece_size;
    HashPipeline m_pipe;
    Fd m_src;
    int64_t m_block = 4096;
    int64_t m_room = 0, m_trip_room = 0, m_budget = 0;
    int64_t m_limit = 0; // --max-bytes (INT64_MAX for none)
    bool m_reclaimed = false, m_stopped = false;
    ErrorSink m_sink;
    std::vector<std::pair<int64_t, int64_t>> m_missed; // (entry, when): note_misses_at
    std::vector<int64_t> m_unmissed;

    RetryPolicy m_policy;
    // Last: destroyed first, so a batch still in flight finishes before the
    // members it uses go away.
    Transfer<CopiedFile> m_transfer;
};

} // namespace

LoadResult load_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                     const LoadOptions& options, Progress* progress) {
    LoadResult result;
    // A dry run does what a load does up to the copy, the scan of the live source
    // included, inside a transaction that is never committed: the catalog stays
    // byte-identical, and the plan is what a load would do now.
    std::optional<Transaction> dry;
    if (options.dry_run) {
        dry.emplace(catalog.db());
        result.dry_run = true;
    }
    ScanOptions so;
    so.hash = ScanOptions::Hash::no;
    so.accept_mass_change = options.accept_mass_change;
    so.skip_dir = layout.root;
    so.dry_run = options.dry_run;
    std::vector<std::string> notes;
    {
        // What the other drives of the pair know (SPEC §9), from their catalog
        // copies here: before the scan, so that it sees the paths they know (a
        // file they delivered and the source deleted since is a deletion now)
        // and uses the pair's options as last set on any drive.
        Transaction tx(catalog.db());
        KnowledgeMerge k = merge_knowledge(catalog, pair, End::source, pair.source, options.copy_keys);
        result.learned = k.entries_learned;
        notes = std::move(k.notes);
        tx.commit();
    }
    Pair merged = catalog.find_pair(pair.name).value_or(pair);
    result.scan = scan_pair(catalog, merged, so, progress);
    for (auto& n : notes) {
        result.scan.notes.push_back(std::move(n));
    }
    {
        // And the content of files they hashed that this scan found new (a
        // drive joining the pair, a file renamed since): no second read.
        Transaction tx(catalog.db());
        result.learned += adopt_contents(catalog, merged, options.copy_keys);
        tx.commit();
    }
    // The pair as the scan left it (its generation moved on).
    Pair fresh = catalog.find_pair(pair.name).value_or(pair);
    {
        Loader loader(catalog, layout, fresh, options, result, progress);
        loader.run();
    }
    std::tie(result.carried_elsewhere, result.carried_elsewhere_bytes) =
        carried_elsewhere(catalog.db(), fresh.id);
    PairStatus ps = pair_status(catalog, fresh, 0);
    result.waiting_files = std::max<int64_t>(0, ps.pending.files + ps.failed.files - result.carried_elsewhere);
    result.waiting_bytes =
        std::max<int64_t>(0, ps.pending.bytes + ps.failed.bytes - result.carried_elsewhere_bytes);
    return result;
}

} // namespace barge
