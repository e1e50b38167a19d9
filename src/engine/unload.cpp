#include "barge/engine/unload.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/atomic_file.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/marker.hpp"
#include "barge/fs/path.hpp"
#include "barge/fs/space.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/hash/trailing.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <future>
#include <mutex>
#include <fmt/format.h>
#include <map>
#include <set>
#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

namespace {

constexpr size_t read_block = 1 << 20;
// A batch shares two syncfs barriers and one catalog commit; it is small enough
// in bytes that the verifier thread re-reads one batch while the next is written.
constexpr size_t batch_max_files = 512;
constexpr int64_t batch_max_bytes = 128ll << 20;

// A piece on the cargo whose bytes do not match its name.
struct CorruptPiece {
    PieceRow piece;
};

// A file written to the staging area, waiting for the barrier, verify and rename.
struct Staged {
    DeliveryItem item;
    Digest hash{};
    std::string tmp; // name inside DEST/.barge/staging
    bool local = false;
    int attempt = 1;
    Trail trail; // its re-read from the destination, when it runs behind the writer
};

std::string random_name(const char* prefix) {
    unsigned char r[8];
    if (::getrandom(r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
        throw_errno("getrandom", prefix);
    }
    return prefix + to_hex(r);
}

class Unloader {
public:
    Unloader(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
             const UnloadOptions& options, UnloadResult& result, Progress* progress)
        : m_catalog(catalog), m_store(catalog.db()), m_cargo(layout), m_pair(pair),
          m_options(options), m_result(result), m_progress(progress), m_tree(pair.dest),
          m_piece_size(static_cast<int64_t>(catalog.piece_size())), m_pipe(read_block),
          m_stamp(utc_stamp(now_ns())), m_root(::geteuid() == 0) {
        m_staging = m_tree.open_dir(".barge/staging", DestTree::Create::yes);
        // Temporary files of an interrupted run; assembly files (.part) are kept:
        // the catalog's staged rows say which of their pieces are complete.
        for (const auto& name : read_dir_names(m_staging.get(), m_tree.display(".barge/staging"))) {
            if (starts_with(name, "tmp-")) {
                ::unlinkat(m_staging.get(), name.c_str(), 0);
            }
        }
    }

    void run() {
        if (m_progress) {
            PairStatus ps = pair_status(m_catalog, m_pair, 0);
            m_progress->phase("unload", static_cast<uint64_t>(ps.on_cargo.files),
                              static_cast<uint64_t>(ps.on_cargo.bytes));
        }
        deliver_dirs();
        deliver_files();
        deliver_symlinks();
        apply_deletions();
        dir_metadata();
        m_result.pruned += prune_expired(m_tree, m_pair.retention_days);
    }

private:
    std::string rel(const DeliveryItem& d) const { return join_path(d.parent, d.name); }
    std::string display(const DeliveryItem& d) const { return m_tree.display(rel(d)); }

    void fail(const DeliveryItem& d, const std::string& reason) {
        m_result.failures.push_back({display(d), reason});
        spdlog::error("unload {}: '{}': {}", m_pair.name, escape_bytes(display(d)), reason);
        m_store.set_failure(d.entry_id, reason, now_ns());
    }

    // Pages through the pair's undelivered entries of one kind, in path order.
    template <typename F> void each_delivery(Kind kind, F&& f) {
        std::string after_parent, after_name;
        for (;;) {
            auto page = m_store.deliveries(m_pair.id, static_cast<int>(kind), after_parent,
                                           after_name, 256);
            if (page.empty() || stop_requested()) {
                return;
            }
            after_parent = page.back().parent;
            after_name = page.back().name;
            for (auto& d : page) {
                if (stop_requested()) {
                    return;
                }
                try {
                    DestTree::check_path(rel(d));
                    if (under_refused_dir(d)) {
                        continue;
                    }
                    f(d);
                } catch (const SystemError& e) {
                    fail(d, e.what());
                } catch (const CatalogError&) {
                    throw;
                } catch (const VerifyError& e) {
                    fail(d, e.what());
                } catch (const Refusal&) {
                    throw;
                } catch (const Error& e) {
                    fail(d, e.what());
                }
            }
        }
    }

    void deliver_dirs() {
        each_delivery(Kind::dir, [&](const DeliveryItem& d) {
            // A file that became a directory at the source: the destination's old
            // file is kept as a version. A symlink in the way is left alone and
            // reported (it may be the destination admin's own redirect; barge never
            // follows one).
            Fd parent = m_tree.open_dir(d.parent, DestTree::Create::yes);
            struct stat st{};
            bool exists = ::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
            if (exists && !exact_name_present(parent.get(), d)) {
                // "foo/" on a case-insensitive file system where "Foo/" exists: never
                // merge the two; the directory and everything under it fail.
                m_refused_dirs.insert(rel(d));
                fail(d, "the destination's file system takes this directory name for an existing "
                        "different one, as exFAT does with 'Foo' and 'foo'; not merged into it, "
                        "nothing under it delivered");
                return;
            }
            if (exists && S_ISREG(st.st_mode)) {
                move_aside(parent.get(), d, "versions", false);
                std::lock_guard lock(m_shared);
                ++m_result.versions;
            }
            m_tree.open_dir(rel(d), DestTree::Create::yes);
            m_dirs.push_back(d);
        });
    }

    // Sets mode, owner (as root) and mtime on an open file.
    void apply_metadata(int fd, const FileStat& st, const std::string& where) {
        if (m_root && ::fchown(fd, st.uid, st.gid) != 0) {
            throw_errno("chown", where);
        }
        if (::fchmod(fd, st.mode & 07777) != 0) {
            throw_errno("chmod", where);
        }
        timespec times[2] = {{0, UTIME_OMIT}, {st.mtime_ns / 1'000'000'000, st.mtime_ns % 1'000'000'000}};
        if (::futimens(fd, times) != 0) {
            throw_errno("set mtime", where);
        }
    }

    // Free space above the reserve, read once per batch: what the batch writes is
    // counted by m_pending_bytes until the next reading.
    bool room_for(int64_t bytes) {
        if (!m_free) {
            Space sp = fs_space(m_tree.root());
            m_free = static_cast<int64_t>(sp.available) -
                     static_cast<int64_t>(m_pair.reserve.resolve(sp.capacity));
        }
        return *m_free - m_pending_bytes >= bytes;
    }

    // Copies from an open source into fd at to_offset, hashing what is read on the
    // pipeline's thread; returns the digest. Throws VerifyError if the source is short.
    Digest copy_hashing(int from, int to, int64_t size, int64_t to_offset,
                        const std::string& from_display, const std::string& to_display,
                        Trail* trail = nullptr) {
        m_pipe.reset();
        uint64_t n = copy_through(m_pipe, from, 0, size, to, to_offset, from_display, to_display, trail);
        Digest d = m_pipe.finish();
        if (static_cast<int64_t>(n) < size) {
            throw VerifyError(fmt::format("'{}' is shorter than recorded", escape_bytes(from_display)));
        }
        return d;
    }

    // Copies one cargo piece into fd at offset, re-hashing it on the way (the
    // drive is untrusted: a corrupt piece is never written). Throws CorruptPiece.
    void copy_piece(const PieceRow& piece, int fd, int64_t offset, const std::string& to_display,
                    Trail* trail = nullptr) {
        std::string from = m_cargo.path(piece.hash);
        Fd in = m_cargo.open_piece(piece.hash);
        if (!in) {
            throw CorruptPiece{piece};
        }
        struct stat st{};
        if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != piece.size) {
            throw CorruptPiece{piece};
        }
        ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        Digest d;
        try {
            d = copy_hashing(in.get(), fd, piece.size, offset, from, to_display, trail);
        } catch (const VerifyError&) {
            throw CorruptPiece{piece};
        }
        if (d != piece.hash) {
            throw CorruptPiece{piece};
        }
    }

    void corrupt(const DeliveryItem& d, const PieceRow& piece) {
        // Removed and queued again: the next load carries it from the source.
        m_cargo.remove(piece.hash);
        m_store.set_off_cargo(piece.id);
        ++m_result.corrupt_pieces;
        fail(d, fmt::format("piece {} on the cargo is corrupt or missing (its bytes do not match "
                            "its hash); it was removed and will be carried again on the next load",
                            digest_hex(piece.hash).substr(0, 16)));
    }

    // Is the right content already at the final path (an interrupted run renamed
    // it into place, or the destination was seeded by hand)? Then only metadata.
    bool already_there(const DeliveryItem& d, const Digest& hash) {
        Fd parent = m_tree.open_dir(d.parent, DestTree::Create::yes);
        struct stat st{};
        if (::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) || st.st_size != d.st.size || !exact_name_present(parent.get(), d)) {
            return false;
        }
        Fd fd = open_beneath(parent.get(), d.name, O_RDONLY | O_NOFOLLOW);
        if (!fd) {
            return false;
        }
        uint64_t n = 0;
        if (hash_fd(fd.get(), m_pipe, n, display(d)) != hash) {
            return false;
        }
        Fd rw = open_beneath_or_throw(parent.get(), d.name, O_WRONLY | O_NOFOLLOW, display(d));
        apply_metadata(rw.get(), d.st, display(d));
        full_sync(rw.get(), display(d));
        return true;
    }

    void deliver_files() {
        each_delivery(Kind::file, [&](const DeliveryItem& d) {
            if (!d.content_id) {
                ++m_result.waiting; // not loaded (or hashed) yet
                return;
            }
            auto hash = d.content_hash;
            if (!hash) {
                throw CatalogError(fmt::format("catalog names content {} that it does not hold",
                                               *d.content_id));
            }
            int64_t pieces = d.st.size == 0 ? 0 : (d.st.size + m_piece_size - 1) / m_piece_size;
            if (pieces > 1 && !m_store.delivered_path_with_content(m_pair.id, *d.content_id, d.entry_id) &&
                !all_on_cargo(*d.content_id, pieces)) {
                // Spread over several trips: assembled piece by piece in staging.
                if (already_there(d, *hash)) {
                    done_in_place(d);
                    return;
                }
                deliver_multi(d, *hash, pieces);
                return;
            }
            if (already_there(d, *hash)) {
                done_in_place(d);
                return;
            }
            stage_small(d, *hash, 1);
            if (m_batch.size() >= batch_max_files || m_pending_bytes >= batch_max_bytes) {
                finish_batch();
            }
        });
        drain_batches();
        while (!m_retry.empty() && !stop_requested()) {
            auto retry = std::move(m_retry);
            m_retry.clear();
            for (auto& s : retry) {
                try {
                    stage_small(s.item, s.hash, s.attempt);
                } catch (const Error& e) {
                    fail(s.item, e.what());
                }
            }
            drain_batches();
        }
    }

    // Every piece of the content is on the cargo now, and none was staged by an
    // earlier trip: the file can take the batched path in one go.
    bool all_on_cargo(int64_t content_id, int64_t pieces) {
        if (!m_store.staged(m_pair.id, content_id).empty()) {
            return false;
        }
        auto cps = m_store.content_pieces(content_id);
        if (static_cast<int64_t>(cps.size()) != pieces) {
            return false;
        }
        return std::all_of(cps.begin(), cps.end(), [](const ContentPiece& cp) { return cp.piece.on_cargo; });
    }

    void done_in_place(const DeliveryItem& d) {
        Transaction tx(m_catalog.db());
        m_store.mark_delivered(d.entry_id, now_ns());
        tx.commit();
        ++m_result.already_there;
    }

    // Writes a file whose pieces are all on the cargo (or an empty file, or a copy
    // of a delivered file with the same content) to a temporary file in staging.
    void stage_small(const DeliveryItem& d, const Digest& hash, int attempt) {
        if (!room_for(d.st.size)) {
            fail(d, "the destination is full (its reserve would be used); it stays on the cargo");
            return;
        }
        Staged s{d, hash, random_name("tmp-"), false, attempt, {}};
        std::string tmp_display = m_tree.display(".barge/staging/" + s.tmp);
        Fd out = openat_or_throw(m_staging.get(), s.tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW,
                                 0600, tmp_display);
        try {
            bool trailed = d.st.size >= trail_from;
            if (trailed) {
                s.trail = m_trailer.follow(m_staging.get(), s.tmp, tmp_display);
            }
            bool done = false;
            if (auto local = m_store.delivered_path_with_content(m_pair.id, *d.content_id, d.entry_id)) {
                // A rename or a duplicate: the destination's own verified copy, re-hashed
                // while copied. No cargo bytes needed.
                Fd in = open_beneath(m_tree.fd(), *local, O_RDONLY | O_NOFOLLOW);
                if (in && copy_hashing(in.get(), out.get(), d.st.size, 0, m_tree.display(*local),
                                       tmp_display, &s.trail) == hash) {
                    done = true;
                    s.local = true;
                } else if (::ftruncate(out.get(), 0) != 0) {
                    throw_errno("truncate", tmp_display);
                } else if (trailed) {
                    // Written again from the cargo: the re-read starts over too.
                    s.trail.abandon();
                    s.trail = m_trailer.follow(m_staging.get(), s.tmp, tmp_display);
                }
            }
            if (!done && d.st.size > 0) {
                auto cps = m_store.content_pieces(*d.content_id);
                int64_t pieces = (d.st.size + m_piece_size - 1) / m_piece_size;
                bool complete = static_cast<int64_t>(cps.size()) == pieces &&
                                std::all_of(cps.begin(), cps.end(),
                                            [](const ContentPiece& cp) { return cp.piece.on_cargo; });
                if (!complete) {
                    ::unlinkat(m_staging.get(), s.tmp.c_str(), 0);
                    ++m_result.waiting;
                    return;
                }
                try {
                    for (const auto& cp : cps) {
                        copy_piece(cp.piece, out.get(), cp.offset, tmp_display, &s.trail);
                    }
                } catch (const CorruptPiece& c) {
                    ::unlinkat(m_staging.get(), s.tmp.c_str(), 0);
                    corrupt(d, c.piece);
                    return;
                }
            }
            apply_metadata(out.get(), d.st, tmp_display);
            if (d.st.size >= start_writeback_from) {
                start_writeback(out.get()); // the batch's syncfs stays the barrier
            }
            s.trail.close();
            out.close(tmp_display);
        } catch (...) {
            ::unlinkat(m_staging.get(), s.tmp.c_str(), 0);
            throw;
        }
        m_pending_bytes += d.st.size;
        m_batch.push_back(std::move(s));
    }

    // What the verifier thread made of one batch.
    struct VerifiedBatch {
        std::vector<Staged> placed;
        std::vector<Staged> read_back_wrong;
        std::vector<std::pair<Staged, std::string>> failed;
    };

    // Hands the batch to the verifier thread (one durability barrier, verify each
    // file by re-reading it from the medium, rename into place, a second barrier)
    // and goes on writing the next batch; the catalog commit happens here once the
    // batch is collected (SQLite stays on this thread).
    void finish_batch() {
        if (m_batch.empty()) {
            return;
        }
        std::vector<Staged> batch = std::move(m_batch);
        m_batch.clear();
        m_pending_bytes = 0;
        m_free.reset();
        collect_verified(); // at most one batch in flight
        m_inflight = std::async(std::launch::async,
                                [this, b = std::move(batch)]() mutable { return verify_batch(std::move(b)); });
    }

    void drain_batches() {
        finish_batch();
        collect_verified();
    }

    // Verifier thread: files, the destination tree and its own pipeline only.
    VerifiedBatch verify_batch(std::vector<Staged> batch) {
        VerifiedBatch v;
        sync_file_system(m_staging.get(), m_tree.display(".barge/staging"));
        for (auto& s : batch) {
            try {
                if (!verify_staged(s, m_verify_pipe)) {
                    ::unlinkat(m_staging.get(), s.tmp.c_str(), 0);
                    v.read_back_wrong.push_back(std::move(s));
                    continue;
                }
                place(s.tmp, s.item);
                v.placed.push_back(std::move(s));
            } catch (const SystemError& e) {
                ::unlinkat(m_staging.get(), s.tmp.c_str(), 0);
                v.failed.emplace_back(std::move(s), e.what());
            }
        }
        sync_file_system(m_staging.get(), m_tree.display(".barge/staging"));
        return v;
    }

    void collect_verified() {
        if (!m_inflight.valid()) {
            return;
        }
        VerifiedBatch v = m_inflight.get(); // rethrows a failure of the destination's disk
        for (auto& s : v.read_back_wrong) {
            if (s.attempt < m_options.attempts) {
                spdlog::warn("unload {}: '{}': read back wrong from the destination (attempt {} of {})",
                             m_pair.name, escape_bytes(display(s.item)), s.attempt, m_options.attempts);
                s.attempt += 1;
                m_retry.push_back(std::move(s));
            } else {
                fail(s.item, "the copy at the destination read back different from what was "
                             "written, every attempt (a failing destination disk?)");
            }
        }
        for (auto& [s, reason] : v.failed) {
            fail(s.item, reason);
        }
        if (v.placed.empty()) {
            return;
        }
        Transaction tx(m_catalog.db());
        int64_t now = now_ns();
        for (auto& s : v.placed) {
            m_store.mark_delivered(s.item.entry_id, now);
            ++m_result.files;
            m_result.bytes += s.item.st.size;
            if (s.local) {
                ++m_result.local_copies;
            }
            if (m_progress) {
                m_progress->advance(1, static_cast<uint64_t>(s.item.st.size), rel(s.item));
            }
        }
        tx.commit();
    }

    // Whether a staged file read back from the medium matches: re-read behind its
    // writer (a large file), or now.
    bool verify_staged(Staged& s, HashPipeline& pipe) {
        if (s.trail) {
            uint64_t n = 0;
            try {
                Digest d = s.trail.digest(n);
                return static_cast<int64_t>(n) == s.item.st.size && d == s.hash;
            } catch (const VerifyError&) {
                return false;
            }
        }
        return verify_staged(s.tmp, s.item.st.size, s.hash, pipe);
    }

    bool verify_staged(const std::string& tmp, int64_t size, const Digest& hash, HashPipeline& pipe) {
        std::string where = m_tree.display(".barge/staging/" + tmp);
        // From the medium: O_DIRECT, or the page cache dropped first (durability.md).
        VerifyFd fd = open_for_verify(m_staging.get(), tmp, where);
        uint64_t n = 0;
        Digest d = hash_for_verify(fd, pipe, n, where);
        return static_cast<int64_t>(n) == size && d == hash;
    }

    // Whether an ancestor directory of the entry was refused this run (fails the
    // entry, saying so). Only paid when something was refused.
    bool under_refused_dir(const DeliveryItem& d) {
        if (m_refused_dirs.empty()) {
            return false;
        }
        std::string path = d.parent;
        for (;;) {
            if (m_refused_dirs.contains(path)) {
                fail(d, fmt::format("its directory '{}' could not be created (see its own error)",
                                    escape_bytes(m_tree.display(path))));
                return true;
            }
            auto slash = path.rfind('/');
            if (slash == std::string::npos) {
                return false;
            }
            path.resize(slash);
        }
    }

    // Whether the directory lists exactly this name. Asked only when something
    // answers to the name, so the listing is paid for replacements, not per file.
    bool exact_name_present(int parent_fd, const DeliveryItem& d) {
        ::lseek(parent_fd, 0, SEEK_SET);
        auto names = read_dir_names(parent_fd, m_tree.display(d.parent));
        return std::find(names.begin(), names.end(), d.name) != names.end();
    }

    // Moves what stands at parent/name aside into DEST/.barge/<area>/<stamp>/<path>.
    // A regular file replaced by a new version is hard-linked there first, so the
    // final name never goes missing; elsewhere (exFAT, symlinks, directories) it is renamed.
    void move_aside(int parent_fd, const DeliveryItem& d, const char* area, bool keep_link) {
        std::string aside_dir = std::string(".barge/") + area + "/" + m_stamp;
        if (!d.parent.empty()) {
            aside_dir += "/" + d.parent;
        }
        Fd dir = m_tree.open_dir(aside_dir, DestTree::Create::yes);
        if (keep_link && ::linkat(parent_fd, d.name.c_str(), dir.get(), d.name.c_str(), 0) == 0) {
            return;
        }
        if (::renameat(parent_fd, d.name.c_str(), dir.get(), d.name.c_str()) != 0) {
            throw_errno("move aside", display(d));
        }
    }

    // Renames a verified staging file into its final place. Whatever stands there is
    // kept as an old version (never unlinked: SPEC §7.5).
    void place(const std::string& tmp, const DeliveryItem& d) {
        Fd parent = m_tree.open_dir(d.parent, DestTree::Create::yes);
        struct stat st{};
        bool replaced = ::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
        if (replaced && !exact_name_present(parent.get(), d)) {
            // A case-insensitive or normalizing file system (exFAT, ext4 casefold)
            // found another name: never replace "Foo" with "foo".
            throw SystemError(EEXIST,
                              fmt::format("deliver (the destination's file system takes this name "
                                          "for an existing different one, as exFAT does with "
                                          "'Foo' and 'foo'; not delivered, so as not to replace it)"),
                              display(d));
        }
        if (replaced) {
            move_aside(parent.get(), d, "versions", S_ISREG(st.st_mode));
        }
        {
            // place() runs on the verifier thread too.
            std::lock_guard lock(m_shared);
            m_touched.insert(d.parent);
            m_result.versions += replaced ? 1 : 0;
        }
        if (::renameat(m_staging.get(), tmp.c_str(), parent.get(), d.name.c_str()) != 0) {
            if (errno == EXDEV) {
                throw SystemError(EXDEV, "rename (the directory is on another file system than "
                                         "DEST/.barge/staging)",
                                  display(d));
            }
            throw_errno("rename", display(d));
        }
    }

    // A file of several pieces is assembled in DEST/.barge/staging/<hash>.part,
    // piece by piece as they arrive (possibly over several trips), and moves into
    // place only when complete and verified as a whole.
    void deliver_multi(const DeliveryItem& d, const Digest& hash, int64_t pieces) {
        std::string part = digest_hex(hash) + ".part";
        std::string where = m_tree.display(".barge/staging/" + part);
        auto staged_list = m_store.staged(m_pair.id, *d.content_id);
        std::set<int64_t> staged(staged_list.begin(), staged_list.end());
        std::map<int64_t, PieceRow> cps;
        for (auto& cp : m_store.content_pieces(*d.content_id)) {
            cps[cp.idx] = cp.piece;
        }
        int64_t missing_room = 0;
        for (int64_t i = 0; i < pieces; ++i) {
            if (!staged.contains(i)) {
                missing_room += std::min(m_piece_size, d.st.size - i * m_piece_size);
            }
        }
        if (!room_for(missing_room)) {
            fail(d, "the destination is full (its reserve would be used); it stays on the cargo");
            return;
        }
        Fd out = openat_or_throw(m_staging.get(), part, O_RDWR | O_CREAT | O_NOFOLLOW, 0600, where);
        for (int64_t i = 0; i < pieces; ++i) {
            if (staged.contains(i)) {
                continue;
            }
            auto it = cps.find(i);
            if (it == cps.end() || !it->second.on_cargo) {
                continue; // not carried yet: a later trip brings it
            }
            try {
                copy_piece(it->second, out.get(), i * m_piece_size, where);
            } catch (const CorruptPiece& c) {
                corrupt(d, c.piece);
                return;
            }
            data_sync(out.get(), where);
            Transaction tx(m_catalog.db());
            m_store.record_staged(m_pair.id, *d.content_id, i);
            tx.commit();
            staged.insert(i);
            ++m_result.staged_pieces;
        }
        if (static_cast<int64_t>(staged.size()) < pieces) {
            ++m_result.waiting;
            m_result.notes.push_back(fmt::format("'{}': {} of {} pieces assembled; the rest "
                                                 "comes on later trips",
                                                 escape_bytes(display(d)), staged.size(), pieces));
            return;
        }
        if (::ftruncate(out.get(), d.st.size) != 0) {
            throw_errno("truncate", where);
        }
        apply_metadata(out.get(), d.st, where);
        full_sync(out.get(), where);
        out.close(where);
        if (!verify_staged(part, d.st.size, hash, m_pipe)) {
            ::unlinkat(m_staging.get(), part.c_str(), 0);
            Transaction tx(m_catalog.db());
            m_store.clear_staged(m_pair.id, *d.content_id);
            tx.commit();
            fail(d, "the assembled file does not match its hash; its pieces will be carried again");
            return;
        }
        place(part, d);
        Fd parent = m_tree.open_dir(d.parent, DestTree::Create::no);
        full_sync(parent.get(), display(d));
        Transaction tx(m_catalog.db());
        m_store.mark_delivered(d.entry_id, now_ns());
        m_store.clear_staged(m_pair.id, *d.content_id);
        tx.commit();
        ++m_result.files;
        m_result.bytes += d.st.size;
    }

    void deliver_symlinks() {
        std::vector<DeliveryItem> placed;
        each_delivery(Kind::symlink, [&](const DeliveryItem& d) {
            std::string tmp = random_name("tmp-");
            if (::symlinkat(d.st.target.c_str(), m_staging.get(), tmp.c_str()) != 0) {
                throw_errno("symlink", display(d));
            }
            try {
                if (m_root && ::fchownat(m_staging.get(), tmp.c_str(), d.st.uid, d.st.gid,
                                         AT_SYMLINK_NOFOLLOW) != 0) {
                    throw_errno("chown", display(d));
                }
                timespec times[2] = {{0, UTIME_OMIT},
                                     {d.st.mtime_ns / 1'000'000'000, d.st.mtime_ns % 1'000'000'000}};
                if (::utimensat(m_staging.get(), tmp.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
                    throw_errno("set mtime", display(d));
                }
                place(tmp, d);
            } catch (...) {
                ::unlinkat(m_staging.get(), tmp.c_str(), 0);
                throw;
            }
            placed.push_back(d);
        });
        if (placed.empty()) {
            return;
        }
        sync_file_system(m_staging.get(), m_tree.display(".barge/staging"));
        Transaction tx(m_catalog.db());
        for (const auto& d : placed) {
            m_store.mark_delivered(d.entry_id, now_ns());
            ++m_result.symlinks;
        }
        tx.commit();
    }

    void apply_deletions() {
        auto items = m_store.pending_deletions(m_pair.id);
        if (items.empty() || stop_requested()) {
            return;
        }
        Transaction tx(m_catalog.db());
        for (const auto& d : items) {
            try {
                DestTree::check_path(rel(d));
                if (m_pair.on_delete == OnDelete::trash) {
                    trash(d);
                } else {
                    ++m_result.forgotten;
                }
                m_store.forget_entry(d.entry_id);
            } catch (const SystemError& e) {
                m_result.failures.push_back({display(d), e.what()});
            } catch (const Refusal&) {
                throw;
            } catch (const Error& e) {
                m_result.failures.push_back({display(d), e.what()});
            }
        }
        sync_file_system(m_staging.get(), m_tree.display(".barge/staging"));
        tx.commit();
    }

    void trash(const DeliveryItem& d) {
        Fd parent = open_beneath(m_tree.fd(), d.parent, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        if (!parent) {
            return; // already gone
        }
        struct stat st{};
        if (::fstatat(parent.get(), d.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
            return;
        }
        m_touched.insert(d.parent);
        if (S_ISDIR(st.st_mode)) {
            // An emptied directory is removed; one still holding files barge does not
            // track (the user's own) stays where it is.
            ::unlinkat(parent.get(), d.name.c_str(), AT_REMOVEDIR);
            return;
        }
        move_aside(parent.get(), d, "trash", false);
        ++m_result.trashed;
    }

    void dir_metadata() {
        // Directories this run wrote into got a new mtime from the kernel: give them
        // back their own, unless they are delivered below anyway.
        std::set<std::string> pending;
        for (const auto& d : m_dirs) {
            pending.insert(rel(d));
        }
        std::vector<DeliveryItem> restore;
        for (const auto& t : m_touched) {
            if (t.empty() || pending.contains(t)) {
                continue;
            }
            if (auto d = m_store.dir_entry(m_pair.id, t); d && d->d_kind == Kind::dir) {
                restore.push_back(*d);
            }
        }
        if (m_dirs.empty() && restore.empty()) {
            return;
        }
        // Deepest first: setting a child's times does not disturb its parent's.
        auto deepest_first = [&](const DeliveryItem& a, const DeliveryItem& b) {
            return rel(a) > rel(b);
        };
        std::sort(m_dirs.begin(), m_dirs.end(), deepest_first);
        Transaction tx(m_catalog.db());
        for (const auto* list : {&restore, &m_dirs}) {
            for (const auto& d : *list) {
                try {
                    Fd fd = m_tree.open_dir(rel(d), DestTree::Create::no);
                    apply_metadata(fd.get(), d.st, display(d));
                    if (list == &m_dirs) {
                        m_store.mark_delivered(d.entry_id, now_ns());
                        ++m_result.dirs;
                    }
                } catch (const SystemError& e) {
                    m_result.failures.push_back({display(d), e.what()});
                }
            }
        }
        sync_file_system(m_staging.get(), m_tree.display(".barge/staging"));
        tx.commit();
    }

    Catalog& m_catalog;
    TransitStore m_store;
    Cargo m_cargo;
    const Pair& m_pair;
    const UnloadOptions& m_options;
    UnloadResult& m_result;
    Progress* m_progress;
    DestTree m_tree;
    int64_t m_piece_size;
    HashPipeline m_pipe;
    std::string m_stamp;
    bool m_root;
    Fd m_staging;
    std::vector<Staged> m_batch, m_retry;
    int64_t m_pending_bytes = 0;
    std::optional<int64_t> m_free; // see room_for()
    std::vector<DeliveryItem> m_dirs;
    std::set<std::string> m_touched; // directories (relative) this run wrote into
    std::set<std::string> m_refused_dirs; // relative paths of directories not created
    std::mutex m_shared;             // guards m_touched and m_result.versions
    HashPipeline m_verify_pipe;      // the verifier thread's
    TrailingVerifier m_trailer;      // re-reads large files while they are written
    // Last: destroyed first, so a batch still in flight finishes before the
    // members it uses go away.
    std::future<VerifiedBatch> m_inflight;
};

} // namespace

UnloadResult unload_pair(Catalog& catalog, const DriveLayout& layout, const Pair& pair,
                         const UnloadOptions& options, Progress* progress) {
    UnloadResult result;
    DestState state = dest_state(pair);
    if (state == DestState::not_visible) {
        if (pair.dest_claimed_ns) {
            throw dest_marker_missing(pair);
        }
        claim_destination(catalog, pair); // throws the reason it cannot
    }
    if (options.dry_run) {
        TransitStore store(catalog.db());
        for (int kind : {1, 3, 2}) {
            for (const auto& d : store.deliveries(pair.id, kind, "", "", 1 << 30)) {
                result.plan.push_back({join_path(pair.dest, join_path(d.parent, d.name)), d.st.size,
                                       kind != 1 || d.content_id.has_value(), ""});
            }
        }
        return result;
    }
    if (state == DestState::claimable) {
        claim_destination(catalog, pair);
        result.claimed = true;
    }
    Pair fresh = catalog.find_pair(pair.name).value_or(pair);
    Unloader u(catalog, layout, fresh, options, result, progress);
    u.run();
    return result;
}

} // namespace barge
