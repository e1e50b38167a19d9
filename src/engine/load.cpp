#include "barge/engine/load.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/space.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/hash/trailing.hpp"
#include "barge/util/error.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <future>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <map>
#include <set>
#include <spdlog/spdlog.h>
#include <sys/statvfs.h>
#include <unistd.h>

namespace barge {

namespace {

constexpr size_t read_block = 1 << 20;
// A batch shares one durability barrier (syncfs) and one catalog commit.
constexpr size_t batch_max_files = 512;
constexpr int64_t batch_max_bytes = 128ll << 20; // small enough that batches overlap
// Room kept free on the drive beyond the reserve for the catalog and its journal.
constexpr int64_t catalog_margin = 8ll << 20;
int64_t round_up(int64_t n, int64_t block) {
    return block <= 1 ? n : (n + block - 1) / block * block;
}

// A problem with one source file; transient ones are retried.
struct SourceProblem {
    std::string reason;
    bool transient = false;
    bool changed = false; // changed while read: not a failure, carried on a later run
};

struct WrittenPiece {
    TempPiece tmp;
    Digest hash{};
    int64_t size = 0;
    int64_t idx = 0;
    int64_t offset = 0;
    bool duplicate = false; // already on the cargo: nothing to verify or rename
    Trail trail;            // its re-read from the drive, when it runs behind the writer
};

struct CopiedFile {
    LoadCandidate cand;
    Digest content_hash{};
    int64_t pieces_total = 0;
    bool racy = false;
    int attempt = 1;
    std::vector<WrittenPiece> pieces;
};

std::string digest_key(const Digest& d) {
    return std::string(digest_bytes(d));
}

class Loader {
public:
    Loader(Catalog& catalog, const DriveLayout& layout, const Pair& pair, const LoadOptions& options,
           LoadResult& result, Progress* progress)
        : m_catalog(catalog), m_store(catalog.db()), m_cargo(layout), m_layout(layout),
          m_pair(pair), m_options(options), m_result(result), m_progress(progress),
          m_piece_size(static_cast<int64_t>(catalog.piece_size())), m_pipe(read_block) {
        m_src = open_or_throw(pair.source, O_RDONLY | O_DIRECTORY);
        m_fuse = on_fuse(m_cargo.dirfd());
        struct statvfs sv{};
        if (::fstatvfs(m_cargo.dirfd(), &sv) == 0) {
            m_block = static_cast<int64_t>(sv.f_bsize);
        }
        m_budget = options.max_bytes ? static_cast<int64_t>(*options.max_bytes) : INT64_MAX;
        refresh_room();
    }

    void run() {
        std::string after_parent, after_name;
        bool first = true;
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
            for (auto& c : page) {
                if (stop_requested() || m_stopped) {
                    break;
                }
                consider(std::move(c));
            }
            if (stop_requested() || m_stopped) {
                break;
            }
        }
        drain_batches();
        while (!m_retry.empty() && !stop_requested()) {
            auto retry = std::move(m_retry);
            m_retry.clear();
            for (auto& f : retry) {
                copy_and_queue(std::move(f.cand), f.attempt);
            }
            drain_batches();
        }
    }

private:
    std::string rel(const LoadCandidate& c) const { return join_path(c.parent, c.name); }
    std::string display(const LoadCandidate& c) const { return join_path(m_pair.source, rel(c)); }

    void refresh_room() {
        Space sp = fs_space(m_cargo.root());
        int64_t reserve = static_cast<int64_t>(m_pair.reserve.resolve(sp.capacity));
        m_room = static_cast<int64_t>(sp.available) - reserve - catalog_margin;
        // What a trip could hold if every piece on the cargo were reclaimed.
        CargoStatus cs = cargo_status(m_catalog, m_layout);
        m_trip_room = m_room + static_cast<int64_t>(cs.used_bytes);
    }

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
            m_batch.push_back(std::move(f));
            return;
        }
        std::vector<int64_t> needed = needed_pieces(c);
        if (needed.empty()) {
            ++m_result.deduplicated;
            return;
        }
        int64_t need = needed_bytes(c, needed);
        if (need > std::min(m_room, m_budget) && !m_reclaimed && need <= m_budget) {
            drain_batches(); // the catalog must be current before deciding what is reclaimable
            auto [n, bytes] = reclaim_pieces(m_catalog, m_layout);
            m_result.reclaimed_pieces += n;
            m_result.reclaimed_bytes += bytes;
            m_reclaimed = true;
            refresh_room();
        }
        if (need > std::min(m_room, m_budget)) {
            int64_t whole = round_up(c.st.size, m_block);
            bool never_fits_one_trip = whole > m_trip_room;
            if (!never_fits_one_trip || m_budget < m_piece_size) {
                // It fits an emptier drive: leave it for a later trip, smaller files still go.
                m_result.drive_full = true;
                return;
            }
            // Larger than a whole trip: carry the pieces that fit now.
            if (!c.content_id) {
                if (!hash_first(c)) {
                    return;
                }
                needed = needed_pieces(c);
            }
            std::vector<int64_t> fits;
            int64_t total = 0;
            for (int64_t idx : needed) {
                int64_t sz = round_up(piece_len(c, idx), m_block);
                if (total + sz > std::min(m_room, m_budget)) {
                    break;
                }
                total += sz;
                fits.push_back(idx);
            }
            m_result.drive_full = true;
            if (fits.empty()) {
                return;
            }
            needed = std::move(fits);
            need = total;
        }
        m_room -= need;
        m_budget -= need;
        copy_and_queue(std::move(c), 1, needed);
        if (m_batch.size() >= batch_max_files || m_batch_bytes >= batch_max_bytes) {
            finish_batch();
        }
    }

    void plan(const LoadCandidate& c) {
        PlanLine line{display(c), c.st.size, false, ""};
        std::vector<int64_t> needed = c.st.size == 0 ? std::vector<int64_t>{} : needed_pieces(c);
        if (c.st.size > 0 && needed.empty()) {
            return; // already on the cargo
        }
        int64_t need = needed_bytes(c, needed);
        if (!m_reclaimed && need > m_room) {
            for (const auto& p : m_store.reclaimable_pieces()) {
                m_room += round_up(p.size, m_block);
            }
            m_reclaimed = true;
        }
        if (need <= std::min(m_room, m_budget)) {
            line.goes = true;
            m_room -= need;
            m_budget -= need;
        } else if (round_up(c.st.size, m_block) > m_trip_room) {
            line.why = "larger than a whole trip: goes piece by piece over several trips";
            line.goes = m_room >= m_piece_size;
            if (line.goes) {
                m_room = 0;
            }
        } else {
            line.why = need > m_budget ? "over --max-bytes" : "does not fit this trip";
        }
        m_result.plan.push_back(line);
    }

    int64_t piece_count(const LoadCandidate& c) const {
        return c.st.size == 0 ? 0 : (c.st.size + m_piece_size - 1) / m_piece_size;
    }

    int64_t piece_len(const LoadCandidate& c, int64_t idx) const {
        return std::min(m_piece_size, c.st.size - idx * m_piece_size);
    }

    int64_t needed_bytes(const LoadCandidate& c, const std::vector<int64_t>& needed) const {
        int64_t total = 0;
        for (int64_t idx : needed) {
            total += round_up(piece_len(c, idx), m_block);
        }
        return total;
    }

    // The pieces of c that are neither on the cargo nor staged at the destination.
    std::vector<int64_t> needed_pieces(const LoadCandidate& c) {
        int64_t n = piece_count(c);
        std::vector<bool> have(static_cast<size_t>(n), false);
        if (c.content_id) {
            for (const auto& cp : m_store.content_pieces(*c.content_id)) {
                if (cp.idx < n && cp.piece.on_cargo) {
                    have[static_cast<size_t>(cp.idx)] = true;
                }
            }
            for (int64_t idx : m_store.staged(m_pair.id, *c.content_id)) {
                if (idx < n) {
                    have[static_cast<size_t>(idx)] = true;
                }
            }
        }
        std::vector<int64_t> out;
        for (int64_t i = 0; i < n; ++i) {
            if (!have[static_cast<size_t>(i)]) {
                out.push_back(i);
            }
        }
        return out;
    }

    Fd open_source(const LoadCandidate& c) {
        // O_NOATIME needs ownership (or root); retry without it.
        Fd fd = open_beneath(m_src.get(), rel(c), O_RDONLY | O_NOFOLLOW | O_NOATIME);
        if (!fd && errno == EPERM) {
            fd = open_beneath(m_src.get(), rel(c), O_RDONLY | O_NOFOLLOW);
        }
        if (!fd) {
            int err = errno;
            throw SourceProblem{fmt::format("open: {}", std::strerror(err)),
                                err == EIO || err == EINTR || err == EAGAIN,
                                err == ENOENT || err == ELOOP};
        }
        return fd;
    }

    // A file larger than a whole trip travels over several trips, so its whole-file
    // hash must be known before its first piece goes: one extra read of that file.
    bool hash_first(LoadCandidate& c) {
        try {
            Fd fd = open_source(c);
            FileStat before = stat_fd(fd.get(), display(c));
            if (!same_file_stat(before, c.st)) {
                throw SourceProblem{"changed since the scan", false, true};
            }
            uint64_t n = 0;
            Digest d = hash_fd(fd.get(), m_pipe, n, display(c));
            FileStat after = stat_fd(fd.get(), display(c));
            if (!same_file_stat(after, before) || static_cast<int64_t>(n) != before.size) {
                throw SourceProblem{"changed while being read", false, true};
            }
            Transaction tx(m_catalog.db());
            int64_t cid = m_store.ensure_content(d, c.st.size, piece_count(c));
            m_store.set_entry_content(c.entry_id, cid, false);
            tx.commit();
            c.content_id = cid;
            c.content_hash = d;
            return true;
        } catch (const SourceProblem& p) {
            source_problem(c, p);
        } catch (const SystemError& e) {
            source_problem(c, {e.what(), true, false});
        }
        return false;
    }

    void source_problem(const LoadCandidate& c, const SourceProblem& p) {
        if (p.changed) {
            m_result.notes.push_back(fmt::format("'{}' {}: it will be carried on a later run",
                                                 escape_bytes(display(c)), p.reason));
            return;
        }
        fail(c, p.reason);
    }

    void fail(const LoadCandidate& c, const std::string& reason) {
        m_result.failures.push_back({display(c), reason});
        spdlog::error("load {}: '{}': {}", m_pair.name, escape_bytes(display(c)), reason);
        m_store.set_failure(c.entry_id, reason, now_ns());
    }

    void copy_and_queue(LoadCandidate c, int attempt, std::vector<int64_t> needed = {}) {
        if (needed.empty()) {
            needed = needed_pieces(c);
        }
        for (;; ++attempt) {
            try {
                CopiedFile f = copy(c, needed);
                f.attempt = attempt;
                m_batch_bytes += c.st.size;
                m_batch.push_back(std::move(f));
                return;
            } catch (const SourceProblem& p) {
                if (p.transient && attempt < m_options.attempts) {
                    spdlog::warn("load {}: '{}': {} (attempt {} of {})", m_pair.name,
                                 escape_bytes(display(c)), p.reason, attempt, m_options.attempts);
                    continue;
                }
                source_problem(c, p);
                return;
            } catch (const SystemError& e) {
                if (e.err() == ENOSPC) {
                    // The estimate of free space was off (file-system overhead):
                    // this file waits, and the trip ends here.
                    m_result.drive_full = true;
                    m_stopped = true;
                    return;
                }
                throw; // the drive failed: stop the run
            }
        }
    }

    // Reads the needed pieces of c, hashing while writing them to temporary files
    // on the cargo. Throws SourceProblem for the source, SystemError for the drive.
    CopiedFile copy(const LoadCandidate& c, const std::vector<int64_t>& needed) {
        CopiedFile f;
        f.cand = c;
        f.pieces_total = piece_count(c);
        Fd fd = open_source(c);
        int64_t started = now_ns();
        FileStat before = stat_fd(fd.get(), display(c));
        if (!same_file_stat(before, c.st)) {
            throw SourceProblem{"changed since the scan", false, true};
        }
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        bool whole = static_cast<int64_t>(needed.size()) == f.pieces_total;
        bool multi = f.pieces_total > 1;
        std::map<int64_t, Digest> known_pieces;
        if (c.content_id) {
            for (const auto& cp : m_store.content_pieces(*c.content_id)) {
                known_pieces[cp.idx] = cp.piece.hash;
            }
        }
        // Reading and writing here, hashing on the pipeline's thread: both cores work.
        m_pipe.reset();
        m_pipe.track_total(whole && multi);
        try {
            for (int64_t idx : needed) {
                WrittenPiece wp;
                wp.idx = idx;
                wp.offset = idx * m_piece_size;
                wp.size = piece_len(c, idx);
                wp.tmp = m_cargo.create_temp();
                std::string tmp_path = m_cargo.root() + "/tmp/" + wp.tmp.name;
                uint64_t n;
                try {
                    if (!m_fuse && wp.size >= trail_from) {
                        wp.trail = m_trailer.follow(m_cargo.tmp_dirfd(), wp.tmp.name, tmp_path);
                    }
                    n = copy_through(m_pipe, fd.get(), wp.offset, wp.size, wp.tmp.fd.get(), 0,
                                     display(c), tmp_path, &wp.trail);
                } catch (const ReadError& e) {
                    m_cargo.discard(wp.tmp);
                    throw SourceProblem{e.what(), e.err() == EIO || e.err() == EINTR, false};
                } catch (...) {
                    m_cargo.discard(wp.tmp);
                    throw;
                }
                wp.hash = m_pipe.finish();
                if (static_cast<int64_t>(n) < wp.size) {
                    m_cargo.discard(wp.tmp);
                    throw SourceProblem{"changed while being read (it shrank)", false, true};
                }
                if (auto it = known_pieces.find(idx); it != known_pieces.end() && it->second != wp.hash) {
                    m_cargo.discard(wp.tmp);
                    throw SourceProblem{stealthy_change_reason(), false, false};
                }
                auto existing = m_store.piece_by_hash(wp.hash);
                wp.duplicate = (existing && existing->on_cargo) || m_batch_pieces.contains(digest_key(wp.hash));
                if (wp.duplicate) {
                    wp.trail.abandon();
                    m_cargo.discard(wp.tmp);
                } else {
                    wp.trail.close();
                    m_batch_pieces.insert(digest_key(wp.hash));
                    if (m_fuse) {
                        data_sync(wp.tmp.fd.get(), tmp_path); // see docs/durability.md
                    } else if (wp.size >= start_writeback_from) {
                        start_writeback(wp.tmp.fd.get());
                    }
                }
                f.pieces.push_back(std::move(wp));
            }
            FileStat after = stat_fd(fd.get(), display(c));
            if (!same_file_stat(after, before)) {
                throw SourceProblem{"changed while being read", false, true};
            }
        } catch (...) {
            discard(f);
            throw;
        }
        if (whole) {
            f.content_hash = multi ? m_pipe.finish_total() : f.pieces.front().hash;
            if (c.content_hash && *c.content_hash != f.content_hash) {
                discard(f);
                throw SourceProblem{stealthy_change_reason(), false, false};
            }
        } else {
            f.content_hash = *c.content_hash; // a multi-trip file: hashed before its first piece
        }
        f.racy = before.mtime_ns >= started - racy_margin_ns;
        return f;
    }

    static std::string stealthy_change_reason() {
        return "its bytes no longer match the hash recorded by an earlier scan although its size, "
               "mtime, ctime and inode are unchanged: bit rot on the source disk, or a change "
               "that hid its tracks. Not carried; check this file (a backup copy may be the "
               "good one)";
    }

    void discard(CopiedFile& f) {
        for (auto& p : f.pieces) {
            m_cargo.discard(p.tmp);
        }
    }

    // What the verifier thread made of one batch.
    struct VerifiedBatch {
        std::vector<CopiedFile> good;
        std::vector<std::pair<CopiedFile, std::string>> bad;
    };

    // Hands the batch to the verifier thread (durability barrier, verify by
    // re-reading from the medium, rename into place, second barrier) and goes on
    // copying the next batch meanwhile; the catalog commit of a batch happens here,
    // on this thread, once its verification is collected.
    void finish_batch() {
        if (m_batch.empty()) {
            return;
        }
        std::vector<CopiedFile> batch = std::move(m_batch);
        m_batch.clear();
        m_batch_bytes = 0;
        m_batch_pieces.clear();
        collect_verified(); // at most one batch in flight: memory and order stay bounded
        m_inflight = std::async(std::launch::async,
                                [this, b = std::move(batch)]() mutable { return verify_batch(std::move(b)); });
    }

    // Waits for the batch in flight, if any, and commits what it verified.
    void collect_verified() {
        if (!m_inflight.valid()) {
            return;
        }
        VerifiedBatch v = m_inflight.get(); // rethrows a drive failure of the verifier
        for (auto& [f, bad] : v.bad) {
            if (f.attempt < m_options.attempts) {
                spdlog::warn("load {}: '{}': {} (attempt {} of {})", m_pair.name,
                             escape_bytes(display(f.cand)), bad, f.attempt, m_options.attempts);
                f.attempt += 1;
                m_retry.push_back(std::move(f));
            } else {
                fail(f.cand, bad);
            }
        }
        commit(v.good);
    }

    // Flushes everything: the current batch and the one in flight.
    void drain_batches() {
        finish_batch();
        collect_verified();
    }

    // On the verifier thread: only the cargo's files and this thread's own hash
    // pipeline are touched here, never the catalog.
    VerifiedBatch verify_batch(std::vector<CopiedFile> batch) {
        VerifiedBatch v;
        bool any_written = false;
        for (auto& f : batch) {
            for (auto& p : f.pieces) {
                any_written = any_written || !p.duplicate;
            }
        }
        if (any_written && !m_fuse) {
            sync_file_system(m_cargo.dirfd(), m_cargo.root());
        }
        std::set<std::string> failed;
        std::vector<CopiedFile> good;
        for (auto& f : batch) {
            std::string bad = verify(f);
            if (bad.empty()) {
                good.push_back(std::move(f));
                continue;
            }
            for (auto& p : f.pieces) {
                if (!p.duplicate) {
                    failed.insert(digest_key(p.hash));
                }
            }
            discard(f);
            v.bad.emplace_back(std::move(f), bad);
        }
        // A file whose content duplicates a piece that just failed has nothing on the
        // cargo to point to: it is copied again too.
        for (auto& f : good) {
            bool orphan = std::any_of(f.pieces.begin(), f.pieces.end(), [&](const WrittenPiece& p) {
                return p.duplicate && failed.contains(digest_key(p.hash));
            });
            if (orphan) {
                discard(f);
                v.bad.emplace_back(std::move(f), "a piece it shares with another file failed verification");
            } else {
                v.good.push_back(std::move(f));
            }
        }
        std::set<std::string> fans;
        for (auto& f : v.good) {
            for (auto& p : f.pieces) {
                if (!p.duplicate) {
                    m_cargo.commit(p.tmp, p.hash);
                    fans.insert(Cargo::relative_path(p.hash).substr(0, 2));
                }
            }
        }
        if (!fans.empty()) {
            if (m_fuse) {
                for (const auto& fan : fans) {
                    Fd dir = open_beneath_or_throw(m_cargo.dirfd(), fan, O_RDONLY | O_DIRECTORY,
                                                   m_cargo.root() + "/" + fan);
                    full_sync(dir.get(), m_cargo.root() + "/" + fan);
                }
            } else {
                sync_file_system(m_cargo.dirfd(), m_cargo.root());
            }
        }
        return v;
    }

    // One catalog commit for a verified, durable batch.
    void commit(std::vector<CopiedFile>& good) {
        if (good.empty()) {
            return;
        }
        int64_t now = now_ns();
        Transaction tx(m_catalog.db());
        for (auto& f : good) {
            int64_t cid = m_store.ensure_content(f.content_hash, f.cand.st.size, f.pieces_total);
            if (!f.cand.content_id || *f.cand.content_id != cid) {
                m_store.set_entry_content(f.cand.entry_id, cid, f.racy);
            }
            for (auto& p : f.pieces) {
                m_store.record_piece(p.hash, p.size, cid, p.idx, p.offset, now);
                if (!p.duplicate) {
                    ++m_result.pieces;
                }
            }
            m_store.clear_failure(f.cand.entry_id);
            bool all_duplicates = !f.pieces.empty() &&
                                  std::all_of(f.pieces.begin(), f.pieces.end(),
                                              [](const WrittenPiece& p) { return p.duplicate; });
            if (all_duplicates) {
                ++m_result.deduplicated; // its content was already on the cargo
                continue;
            }
            ++m_result.files;
            m_result.bytes += f.cand.st.size;
            if (m_progress) {
                m_progress->advance(1, static_cast<uint64_t>(f.cand.st.size), rel(f.cand));
            }
        }
        tx.commit();
    }

    // Compares each new piece's re-read from the medium with the hash taken while
    // reading the source: a large piece was re-read behind its writer, a small one
    // is re-read now. Returns "" or the reason it failed. Verifier thread.
    std::string verify(CopiedFile& f) {
        for (auto& p : f.pieces) {
            if (p.duplicate) {
                continue;
            }
            std::string path = m_cargo.root() + "/tmp/" + p.tmp.name;
            uint64_t n = 0;
            Digest d;
            if (p.trail) {
                try {
                    d = p.trail.digest(n);
                } catch (const VerifyError& e) {
                    return e.what();
                }
            } else {
                // From the medium: O_DIRECT, or the page cache dropped first (durability.md).
                VerifyFd rd = open_for_verify(m_cargo.tmp_dirfd(), p.tmp.name, path);
                d = hash_for_verify(rd, m_verify_pipe, n, path);
            }
            if (static_cast<int64_t>(n) != p.size || d != p.hash) {
                return fmt::format("piece {} read back from the drive does not match what was "
                                   "written (the drive or its connection corrupts data)",
                                   p.idx);
            }
        }
        return "";
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
    HashPipeline m_verify_pipe; // the verifier thread's
    TrailingVerifier m_trailer;  // re-reads large pieces while they are written
    Fd m_src;
    bool m_fuse = false;
    int64_t m_block = 4096;
    int64_t m_room = 0, m_trip_room = 0, m_budget = 0;
    bool m_reclaimed = false, m_stopped = false;
    std::vector<CopiedFile> m_batch, m_retry;
    int64_t m_batch_bytes = 0;
    std::set<std::string> m_batch_pieces;
    // Last: destroyed first, so a batch still in flight finishes before the
    // members it uses go away.
    std::future<VerifiedBatch> m_inflight;
};

} // namespace

int64_t check_cargo(Catalog& catalog, const DriveLayout& layout) {
    Cargo cargo(layout);
    cargo.clear_temp();
    TransitStore store(catalog.db());
    int64_t requeued = 0;
    Transaction tx(catalog.db());
    for (const auto& p : store.pieces_on_cargo()) {
        auto size = cargo.piece_size(p.hash);
        if (!size || *size != p.size) {
            spdlog::warn("piece {} is {} on the cargo: it will be carried again",
                         digest_hex(p.hash).substr(0, 16), size ? "of the wrong size" : "missing");
            store.set_off_cargo(p.id);
            ++requeued;
        }
    }
    // Files the catalog does not hold as on the cargo: pieces whose commit never
    // happened (an interrupted load) or that were reclaimed. The cargo is barge's.
    for (const auto& fan : read_dir_names(cargo.dirfd(), layout.cargo())) {
        if (fan == "tmp" || fan.size() != 2) {
            continue;
        }
        Fd dir = open_beneath(cargo.dirfd(), fan, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!dir) {
            continue;
        }
        for (const auto& name : read_dir_names(dir.get(), layout.cargo() + "/" + fan)) {
            auto raw = from_hex(name);
            std::optional<PieceRow> row;
            if (raw && raw->size() == 64) {
                row = store.piece_by_hash(digest_from_bytes(*raw));
            }
            if (!row || !row->on_cargo) {
                ::unlinkat(dir.get(), name.c_str(), 0);
            }
        }
    }
    tx.commit();
    return requeued;
}

std::pair<int64_t, int64_t> reclaim_pieces(Catalog& catalog, const DriveLayout& layout) {
    Cargo cargo(layout);
    TransitStore store(catalog.db());
    auto pieces = store.reclaimable_pieces();
    if (pieces.empty()) {
        return {0, 0};
    }
    // The catalog first: a crash after the commit leaves files check_cargo removes;
    // the other order would leave the catalog naming pieces that are gone.
    {
        Transaction tx(catalog.db());
        for (const auto& p : pieces) {
            store.set_off_cargo(p.id);
        }
        tx.commit();
    }
    int64_t bytes = 0;
    for (const auto& p : pieces) {
        cargo.remove(p.hash);
        bytes += p.size;
    }
    return {static_cast<int64_t>(pieces.size()), bytes};
}

LoadResult load_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                     const LoadOptions& options, Progress* progress) {
    LoadResult result;
    if (!options.dry_run) {
        ScanOptions so;
        so.hash = ScanOptions::Hash::no;
        so.accept_mass_change = options.accept_mass_change;
        so.skip_dir = layout.root;
        result.scan = scan_pair(catalog, pair, so, progress);
    } else {
        check_source_visible(pair);
    }
    // The pair as the scan left it (its generation moved on).
    Pair fresh = catalog.find_pair(pair.name).value_or(pair);
    Loader loader(catalog, layout, fresh, options, result, progress);
    loader.run();
    PairStatus ps = pair_status(catalog, fresh);
    result.waiting_files = ps.pending.files + ps.failed.files;
    result.waiting_bytes = ps.pending.bytes + ps.failed.bytes;
    return result;
}

} // namespace barge
