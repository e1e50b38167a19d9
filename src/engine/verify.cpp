#include "barge/engine/verify.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/unload.hpp"
#include "barge/fs/dest_tree.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/fs/marker.hpp"
#include "barge/fs/path.hpp"
#include "barge/hash/hash_file.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/text.hpp"
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
    Database& db = catalog.db();
    int64_t total = 0;
    {
        Statement st = db.prepare("SELECT count(*) FROM entries WHERE pair_id = ? AND d_kind = 1");
        st.bind(1, pair.id);
        total = st.step() ? st.column_int(0) : 0;
    }
    int64_t limit = total;
    if (options.sample_percent) {
        limit = static_cast<int64_t>(std::ceil(static_cast<double>(total) * *options.sample_percent / 100.0));
    }
    double deadline = options.max_seconds ? monotonic_seconds() + *options.max_seconds : 1e300;
    // Least recently verified first (never verified = delivered longest ago first):
    // repeated runs with --sample or --max-time scrub the whole tree in turn.
    Statement st = db.prepare(
        "SELECT e.id, e.parent, e.name, c.hash, c.size FROM entries e JOIN contents c ON "
        "c.id = e.d_content_id WHERE e.pair_id = ? AND e.d_kind = 1 "
        "ORDER BY coalesce(e.d_verified_ns, 0), e.id LIMIT ?");
    st.bind(1, pair.id).bind(2, limit);
    struct Item {
        int64_t id;
        std::string rel;
        Digest hash;
        int64_t size;
    };
    std::vector<Item> items;
    while (st.step()) {
        items.push_back({st.column_int(0), join_path(st.column_blob(1), st.column_blob(2)),
                         digest_from_bytes(st.column_blob(3)), st.column_int(4)});
    }
    if (progress) {
        int64_t bytes = 0;
        for (const auto& i : items) {
            bytes += i.size;
        }
        progress->phase("verify", items.size(), static_cast<uint64_t>(bytes));
    }
    DestTree tree(pair.dest);
    HashPipeline pipe;
    std::optional<Transaction> tx;
    double last_commit = monotonic_seconds();
    for (size_t k = 0; k < items.size(); ++k) {
        const Item& it = items[k];
        if (monotonic_seconds() > deadline || stop_requested()) {
            r.stopped_early = true;
            r.left = static_cast<int64_t>(items.size() - k);
            break;
        }
        std::string reason;
        std::string where = tree.display(it.rel);
        if (!is_safe_relative_path(it.rel)) {
            reason = "not a safe relative path in the catalog";
        } else {
            size_t slash = it.rel.rfind('/');
            std::string parent = slash == std::string::npos ? "" : it.rel.substr(0, slash);
            std::string name = slash == std::string::npos ? it.rel : it.rel.substr(slash + 1);
            try {
                Fd dir = tree.open_dir(parent, DestTree::Create::no);
                // From the medium: O_DIRECT, or the page cache dropped first.
                VerifyFd fd = open_for_verify(dir.get(), name, where);
                uint64_t n = 0;
                Digest d = hash_for_verify(fd, pipe, n, where);
                if (static_cast<int64_t>(n) != it.size) {
                    reason = fmt::format("size {} instead of {}", n, it.size);
                } else if (d != it.hash) {
                    reason = "content does not match its BLAKE2b-512 (corrupt)";
                }
                r.bytes += static_cast<int64_t>(n);
            } catch (const SystemError& e) {
                reason = e.err() == ENOENT ? "missing" : e.what();
            }
        }
        if (!tx) {
            tx.emplace(db);
        }
        if (reason.empty()) {
            db.prepare("UPDATE entries SET d_verified_ns = ? WHERE id = ?").bind(1, now_ns()).bind(2, it.id).run();
        } else {
            // No longer delivered: the next load carries it again from the source, and
            // the next unload keeps the damaged copy aside as an old version.
            db.prepare("UPDATE entries SET d_content_id = NULL, d_verified_ns = ?, fail_reason = ?, "
                       "fail_ns = ?, fail_count = fail_count + 1 WHERE id = ?")
                .bind(1, now_ns())
                .bind_text(2, "verify-destination: " + reason)
                .bind(3, now_ns())
                .bind(4, it.id)
                .run();
            r.problems.push_back({where, reason + "; queued to be carried again from the source"});
            spdlog::error("verify-destination {}: '{}': {}", pair.name, escape_bytes(where), reason);
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
    }
    if (tx) {
        tx->commit();
    }
    if (!r.stopped_early) {
        r.left = total - r.checked;
    }
    return r;
}

VerifyResult verify_middle(Catalog& catalog, const DriveLayout& layout,
                           const std::vector<Pair>& pairs, Progress* progress) {
    VerifyResult r;
    Cargo cargo(layout);
    TransitStore store(catalog.db());
    auto pieces = store.pieces_on_cargo();
    if (progress) {
        int64_t bytes = 0;
        for (const auto& p : pieces) {
            bytes += p.size;
        }
        progress->phase("verify-middle", pieces.size(), static_cast<uint64_t>(bytes));
    }
    std::string pair_ids;
    for (const auto& p : pairs) {
        pair_ids += (pair_ids.empty() ? "" : ",") + std::to_string(p.id);
    }
    HashPipeline pipe;
    for (const auto& p : pieces) {
        if (stop_requested()) {
            r.stopped_early = true;
            break;
        }
        std::string reason;
        std::string rel = Cargo::relative_path(p.hash);
        Fd fan = open_beneath(cargo.dirfd(), rel.substr(0, 2), O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
        try {
            if (!fan) {
                throw SystemError(errno, "open", cargo.path(p.hash));
            }
            VerifyFd fd = open_for_verify(fan.get(), rel.substr(3), cargo.path(p.hash));
            uint64_t n = 0;
            Digest d = hash_for_verify(fd, pipe, n, cargo.path(p.hash));
            r.bytes += static_cast<int64_t>(n);
            if (static_cast<int64_t>(n) != p.size) {
                reason = fmt::format("size {} instead of {}", n, p.size);
            } else if (d != p.hash) {
                reason = "content does not match its BLAKE2b-512 (corrupt)";
            }
        } catch (const SystemError& e) {
            reason = e.err() == ENOENT ? "missing" : e.what();
        }
        ++r.checked;
        if (progress) {
            progress->advance(1, static_cast<uint64_t>(p.size), digest_hex(p.hash).substr(0, 16));
        }
        if (reason.empty()) {
            catalog.db().prepare("UPDATE pieces SET verified_ns = ? WHERE id = ?").bind(1, now_ns()).bind(2, p.id).run();
            continue;
        }
        ++r.bad;
        cargo.remove(p.hash);
        store.set_off_cargo(p.id);
        // Name the files that need this piece, so the report means something.
        Statement who = catalog.db().prepare(
            "SELECT DISTINCT pr.source, e.parent, e.name FROM content_pieces cp JOIN entries e ON "
            "e.content_id = cp.content_id JOIN pairs pr ON pr.id = e.pair_id WHERE cp.piece_id = ? "
            "AND e.kind = 1 AND e.pair_id IN (" + (pair_ids.empty() ? std::string("0") : pair_ids) +
            ") LIMIT 20");
        who.bind(1, p.id);
        bool named = false;
        while (who.step()) {
            named = true;
            r.problems.push_back({join_path(who.column_blob(0), join_path(who.column_blob(1), who.column_blob(2))),
                                  fmt::format("piece {} on the cargo is {}; removed, it will be "
                                              "carried again on the next load",
                                              digest_hex(p.hash).substr(0, 16), reason)});
        }
        if (!named) {
            r.problems.push_back({cargo.path(p.hash), reason + " (no file still needs it); removed"});
        }
        spdlog::error("verify-middle: piece {}: {}", digest_hex(p.hash).substr(0, 16), reason);
    }
    return r;
}

} // namespace barge
