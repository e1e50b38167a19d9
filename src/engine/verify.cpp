#include "barge/engine/verify.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/catalog/verify_store.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/dir_move.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/path.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

namespace barge {

VerifyResult verify_destination(Catalog& catalog, const Pair& pair, const VerifyDestOptions& options,
                                Progress* progress) {
    if (dest_state(pair) != DestState::visible) {
        throw Refusal(fmt::format("destination '{}' of pair '{}' is not visible here (no marker "
                                  "'{}'): nothing to verify on this side",
                                  escape_bytes(pair.dest), pair.name,
                                  escape_bytes(marker_path(pair.dest, pair.uuid, Role::dest))));
    }
    VerifyResult r;
    if (!options.dry_run) {
        // Before the files are chosen: a directory moved whole by an unload
        // killed before recording it is checked where it is now, not reported
        // missing where it was.
        if (auto note = finish_dir_move(catalog, pair)) {
            spdlog::warn("verify-destination {}: {}", pair.name, *note);
        }
        // And what the destination and the other drives know that this drive
        // does not (SPEC §9), as an unload learns it: a file another drive
        // replaced there since is checked as that drive delivered it (or left
        // out, superseded), not reported damaged by this drive's older belief.
        // A destination this user cannot write to (mounted read-only, say)
        // cannot take the order record's lock: it is verified with what this
        // drive knows, as before.
        try {
            DestOrder order(pair);
            KnowledgeMerge k = learn_at_destination(catalog, pair, order, options.copy_keys);
            for (const auto& n : k.notes) {
                spdlog::warn("verify-destination {}: {}", pair.name, n);
            }
            if (k.entries_learned > 0) {
                spdlog::info("verify-destination {}: learned {} from the destination and the other drives",
                             pair.name, plural(k.entries_learned, "entry", "entries"));
            }
        } catch (const SystemError& e) {
            if (e.err() != EROFS && e.err() != EACCES && e.err() != EPERM) {
                throw;
            }
            spdlog::warn("verify-destination {}: {}; checked with what this drive knows (another "
                         "drive's changes there since its last visit may be reported)",
                         pair.name, e.what());
        }
    }
    VerifyStore store(catalog.db());
    int64_t total = store.delivered_files(pair.id);
    int64_t limit = total;
    if (options.sample_percent) {
        limit = static_cast<int64_t>(std::ceil(static_cast<double>(total) * *options.sample_percent / 100.0));
    }
    double deadline = options.max_seconds ? monotonic_seconds() + *options.max_seconds : 1e300;
    // Least recently verified first: repeated runs with --sample or --max-time
    // scrub the whole tree in turn.
    // The totals are one more pass over the files chosen: only for what shows them.
    if (options.dry_run) {
        VerifyTotals chosen = store.least_recently_verified_totals(pair.id, limit);
        r.dry_run = true;
        r.would_check = chosen.files;
        r.would_bytes = chosen.bytes;
        r.left = total;
        return r;
    }
    catalog.set_seen(pair.id, End::dest, machine_id(), now_ns());
    if (progress) {
        VerifyTotals chosen = store.least_recently_verified_totals(pair.id, limit);
        progress->phase("verify", static_cast<uint64_t>(chosen.files), static_cast<uint64_t>(chosen.bytes));
    }
    DestTree tree(pair.dest);
    HashPipeline pipe;
    std::optional<Transaction> tx;
    double last_commit = monotonic_seconds();
    store.each_least_recently_verified(pair.id, limit, [&](const VerifyItem& it) {
        if (monotonic_seconds() > deadline || stop_requested()) {
            r.stopped_early = true;
            r.left = limit - r.checked; // as total - checked below, superseded files counted
            return false;
        }
        std::string reason;
        std::string where = tree.display(it.rel);
        if (!DestTree::is_safe(it.rel)) {
            reason = "not a safe relative path in the catalog";
        } else {
            EntryPath at = EntryPath::of(it.rel);
            try {
                Fd dir = tree.open_dir(at.parent, DestTree::Create::no);
                // From the medium: O_DIRECT, or the page cache dropped first.
                refuse_if_not_regular(dir.get(), at.name, where);
                VerifyFd fd = open_for_verify(dir.get(), at.name, where);
                uint64_t n = 0;
                Digest d = hash_for_verify(fd, pipe, n, where);
                if (static_cast<int64_t>(n) != it.size) {
                    reason = fmt::format("has {} instead of {}", plural(static_cast<int64_t>(n), "byte"),
                                         it.size);
                } else if (d != it.hash) {
                    reason = "does not match its BLAKE2b-512 (corrupt)";
                }
                r.bytes += static_cast<int64_t>(n);
            } catch (const SystemError& e) {
                reason = e.err() == ENOENT ? "is missing" : e.what();
            } catch (const NotRegularFile&) {
                reason = "is not a regular file (a FIFO or a device stands there)";
            }
        }
        if (!tx) {
            tx.emplace(catalog.db());
        }
        if (reason.empty()) {
            store.set_verified(it.entry_id, now_ns());
        } else {
            store.set_damaged(it.entry_id, "verify-destination: " + reason, now_ns());
            r.problems.push_back({where, reason + "; queued to be carried again from the source"});
            spdlog::info("verify-destination {}: '{}': {}", pair.name, escape_bytes(where), reason);
            ++r.bad;
        }
        ++r.checked;
        if (progress) {
            progress->advance(1, static_cast<uint64_t>(it.size), it.rel);
        }
        if (monotonic_seconds() - last_commit > 2.0) {
            tx->commit();
            tx.reset();
            last_commit = monotonic_seconds();
        }
        return true;
    });
    if (tx) {
        tx->commit();
    }
    if (!r.stopped_early) {
        r.left = total - r.checked;
    }
    return r;
}

VerifyResult verify_middle(Catalog& catalog, const DriveLayout& layout,
                           const std::vector<Pair>& pairs, Progress* progress, bool dry_run) {
    VerifyResult r;
    Cargo cargo(layout);
    TransitStore store(catalog.db());
    VerifyStore verified(catalog.db());
    // Counted first (a dry run's answer, the progress line's total), then
    // checked a page at a time: the pieces are never all in memory (SPEC §8).
    int64_t count = 0, total = 0;
    if (dry_run || progress) {
        store.each_piece_on_cargo(4096, [&](std::vector<PieceRow>& page) {
            for (const auto& p : page) {
                ++count;
                total += p.size;
            }
            return true;
        });
    }
    if (dry_run) {
        r.dry_run = true;
        r.would_check = count;
        r.would_bytes = total;
        return r;
    }
    if (progress) {
        progress->phase("verify-middle", static_cast<uint64_t>(count), static_cast<uint64_t>(total));
    }
    std::vector<int64_t> pair_ids;
    for (const auto& p : pairs) {
        pair_ids.push_back(p.id);
    }
    HashPipeline pipe;
    pipe.set_filter(cargo.read_filter()); // an encrypted piece: its plaintext is hashed
    store.each_piece_on_cargo(256, [&](std::vector<PieceRow>& page) {
        for (const auto& p : page) {
            if (stop_requested()) {
                r.stopped_early = true;
                return false;
            }
            std::string reason;
            std::string rel = cargo.relative_path(p.hash);
            Fd fan = open_beneath(cargo.dirfd(), rel.substr(0, 2), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            try {
                if (!fan) {
                    throw SystemError(errno, "open", cargo.path(p.hash));
                }
                refuse_if_not_regular(fan.get(), rel.substr(3), cargo.path(p.hash));
                VerifyFd fd = open_for_verify(fan.get(), rel.substr(3), cargo.path(p.hash));
                uint64_t n = 0;
                int64_t stored = cargo.stored_size(p.size);
                Digest d{};
                try {
                    d = hash_for_verify(fd, pipe, n, cargo.path(p.hash));
                } catch (const TamperedPiece& e) {
                    reason = std::string("does not authenticate (corrupt or tampered: ") + e.what() + ")";
                }
                r.bytes += static_cast<int64_t>(n);
                if (reason.empty() && static_cast<int64_t>(n) != stored) {
                    reason = fmt::format("has {} instead of {}", plural(static_cast<int64_t>(n), "byte"),
                                         stored);
                } else if (reason.empty() && d != p.hash) {
                    reason = "does not match its BLAKE2b-512 (corrupt)";
                }
            } catch (const SystemError& e) {
                reason = e.err() == ENOENT ? "is missing" : "cannot be read: " + std::string(e.what());
            } catch (const NotRegularFile&) {
                reason = "is not a regular file";
            }
            ++r.checked;
            if (progress) {
                progress->advance(1, static_cast<uint64_t>(p.size), digest_hex(p.hash).substr(0, 16));
            }
            if (reason.empty()) {
                continue;
            }
            ++r.bad;
            cargo.remove(p.hash);
            store.set_off_cargo(p.id);
            // Name the files that need this piece, so the report means something.
            auto files = verified.files_needing_piece(p.id, pair_ids, 20);
            for (auto& path : files) {
                r.problems.push_back({std::move(path),
                                      fmt::format("piece {} on the cargo {}; removed, it will be "
                                                  "carried again on the next load",
                                                  digest_hex(p.hash).substr(0, 16), reason)});
            }
            if (files.empty()) {
                r.problems.push_back({cargo.path(p.hash), "the piece " + reason + " (no file still needs it); removed"});
            }
            spdlog::info("verify-middle: piece {}: {}", digest_hex(p.hash).substr(0, 16), reason);
        }
        return true;
    });
    return r;
}

} // namespace barge
