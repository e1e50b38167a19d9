#pragma once

#include "barge/engine/error_sink.hpp"
#include "barge/engine/progress.hpp"
#include "barge/fs/medium.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/hash/trailing.hpp"

#include <algorithm>
#include <cstring>
#include <cstdint>
#include <future>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace barge {

// The block size load and unload read and hash in.
inline constexpr size_t read_block = 1 << 20;

// One file of an item, written under a temporary name and waiting for its
// verification: it must read back from the medium as `size` bytes hashing to
// `expected` (the BLAKE2b-512 taken while reading its source).
struct Written {
    TempFile file;
    Digest expected{};
    int64_t size = 0;
};

// What every item of a transfer carries (load: a file's pieces; unload: a file).
struct TransferItem {
    std::vector<Written> written;
    // Contents that another item of the same batch writes and this one relies on
    // (load: a piece it shares with a file copied just before): if that file's
    // copy fails verification, this item fails with it.
    std::vector<Digest> relies_on;
    int attempt = 1;
    int64_t bytes = 0; // counted towards the batch's size
};

// How much one batch holds: it shares two durability barriers and one catalog
// commit, and is small enough in bytes that the verifier re-reads one batch while
// the next is written. 4,096 small files, not 512: each commit rewrites (and
// journals) every catalog page its rows touch, and a content's rows land at
// random places in the hash-keyed indexes, so bigger commits write each page
// for more files (load of 50,000 small files: 435 MB written instead of 963).
struct BatchLimits {
    size_t files = 4096;
    int64_t bytes = 128ll << 20;
};

// The one transfer pipeline (docs/architecture.md), shared by load, unload and
// install-binary: items are written to a Medium under temporary names by the
// caller's thread; per batch, on the verifier thread, one barrier makes them
// durable, each file is read back from the medium (behind its writer when large)
// and compared with the hash taken while reading its source, the client renames
// the good ones into place, and a second barrier makes the renames durable; then,
// on the caller's thread, the client records the batch in one catalog commit
// (SPEC §7.1, §7.2). One batch is in flight while the next is written. A file that
// reads back wrong is written again (RetryPolicy), then reported failed.
template <typename Item> class Transfer {
public:
    // What the caller says: where verified items go and what they mean.
    class Client {
    public:
        virtual ~Client() = default;
        // Verifier thread: renames a verified item's files into place. A thrown
        // Error fails the item, unless it stops the run.
        virtual void place(Item& item) = 0;
        // Caller's thread: records the placed items of a batch (one transaction).
        virtual void commit(std::vector<Item>& placed) = 0;
        // Caller's thread: writes the item again (attempt already counted up);
        // the client may give up instead. The item's files are removed afterwards.
        virtual void retry(Item&& item) = 0;
        // Caller's thread: the item failed for good. Its files are removed
        // afterwards, unless the client keeps them (TempFile::keep).
        virtual void failed(Item& item, const std::string& reason) = 0;
        // Why written[index] of the item read back wrong.
        virtual std::string mismatch(const Item& item, size_t index) = 0;
        // The item's name for messages (called on both threads).
        virtual std::string describe(const Item& item) = 0;
    };

    Transfer(Medium& medium, Client& client, ErrorSink& sink, RetryPolicy policy,
             BatchLimits limits = {})
        : m_medium(medium), m_client(client), m_sink(sink), m_policy(policy), m_limits(limits) {}
    // Waits for the batch in flight (its files are removed unless placed).
    ~Transfer() {
        if (m_inflight.valid()) {
            m_inflight.wait();
        }
    }
    Transfer(const Transfer&) = delete;
    Transfer& operator=(const Transfer&) = delete;

    // Read-back through a filter (an encrypted drive: the pieces are authenticated
    // and decrypted, and the plaintext hashed); `make` gives one per verifying
    // thread. Only before the first item.
    template <typename Make> void filter_read_back(Make make) {
        m_pipe.set_filter(make());
        m_trailer.set_filter(make());
    }

    // A temporary file on the medium for `size` bytes, re-read behind its writer
    // when it is large enough (docs/durability.md).
    TempFile create(std::string_view prefix, std::string_view suffix, int64_t size, unsigned mode) {
        TempFile f = m_medium.create(prefix, suffix, mode);
        if (size >= trail_from) {
            f.follow(m_trailer);
        }
        return f;
    }

    // Queues a written item (its files finished). Returns true when this closed
    // the batch, which then goes to the verifier.
    bool add(Item item) {
        m_bytes += item.bytes;
        for (const auto& w : item.written) {
            m_batch_writes.insert(w.expected);
        }
        m_batch.push_back(std::move(item));
        if (m_batch.size() >= m_limits.files || m_bytes >= m_limits.bytes) {
            hand_off();
            return true;
        }
        return false;
    }

    // Whether an item of the batch being filled writes this content: a later item
    // may rely on it (TransferItem::relies_on) instead of writing it again.
    bool batch_writes(const Digest& d) const { return m_batch_writes.contains(d); }

    // Verifies, places and commits everything added so far, retries included.
    // After a stop request: only what the batch in flight verified is placed and
    // committed; the rest is dropped (its files removed) for the next run.
    void flush() {
        if (!stop_requested()) {
            hand_off();
        }
        collect();
        while (!m_retry.empty() && !stop_requested()) {
            auto retry = std::exchange(m_retry, {});
            for (auto& item : retry) {
                m_client.retry(std::move(item));
            }
            if (!stop_requested()) {
                hand_off();
            }
            collect();
        }
        m_batch.clear();
        m_bytes = 0;
        m_batch_writes.clear();
        m_retry.clear();
    }

private:
    struct Verified {
        std::vector<Item> placed;
        std::vector<std::pair<Item, std::string>> wrong;  // read back wrong: retried
        std::vector<std::pair<Item, std::string>> failed; // failed for good
        std::vector<std::string> notes; // read errors that a second read got past
    };

    // Hands the batch to the verifier thread; at most one batch is in flight, so
    // memory and order stay bounded.
    void hand_off() {
        if (m_batch.empty()) {
            return;
        }
        std::vector<Item> batch = std::exchange(m_batch, {});
        m_bytes = 0;
        m_batch_writes.clear();
        collect();
        m_inflight = std::async(std::launch::async,
                                [this, b = std::move(batch)]() mutable { return verify(std::move(b)); });
    }

    // Waits for the batch in flight and settles it on this thread.
    void collect() {
        if (!m_inflight.valid()) {
            return;
        }
        Verified v = m_inflight.get(); // rethrows what stopped the verifier (a barrier)
        for (auto& [item, reason] : v.wrong) {
            if (m_policy.again(item.attempt)) {
                m_sink.retrying(m_client.describe(item), reason, item.attempt, m_policy.attempts);
                item.attempt += 1;
                m_retry.push_back(std::move(item));
            } else {
                m_client.failed(item, reason);
            }
        }
        for (auto& [item, reason] : v.failed) {
            m_client.failed(item, reason);
        }
        for (const auto& text : v.notes) {
            m_sink.note(text);
        }
        if (!v.placed.empty()) {
            m_client.commit(v.placed);
        }
    }

    // Verifier thread: the medium, the items' files and this thread's own hash
    // pipeline; never the catalog.
    Verified verify(std::vector<Item> batch) {
        Verified v;
        bool any = std::any_of(batch.begin(), batch.end(), [](const Item& i) { return !i.written.empty(); });
        if (any && !stop_requested()) {
            m_medium.written_barrier();
        }
        std::set<Digest> broken; // contents whose copy read back wrong
        std::vector<Item> good;
        // The small files' re-reads, queued together in the order they are
        // checked: the device works through many at once (SPEC §8).
        DirectBatch reads;
        std::vector<std::vector<std::optional<size_t>>> tickets(batch.size());
        for (size_t i = 0; i < batch.size(); ++i) {
            for (const Written& w : batch[i].written) {
                tickets[i].push_back(w.file.queue_read_back(reads, w.size));
            }
        }
        for (size_t i = 0; i < batch.size(); ++i) {
            Item& item = batch[i];
            if (stop_requested()) {
                break; // what is not verified yet is dropped: the next run does it again
            }
            std::string reason;
            bool wrong = false;
            try {
                for (size_t k = 0; k < item.written.size() && reason.empty(); ++k) {
                    Written& w = item.written[k];
                    uint64_t n = 0;
                    Digest d{};
                    try {
                        d = w.file.read_back(m_pipe, n, reads, tickets[i][k]);
                    } catch (const VerifyError&) {
                        n = ~uint64_t{0}; // the file was shorter than written
                    }
                    if (static_cast<int64_t>(n) != w.size || d != w.expected) {
                        reason = m_client.mismatch(item, k);
                        wrong = true;
                    } else if (int err = tickets[i][k] ? reads.error(*tickets[i][k]) : 0) {
                        // Verified by the ordinary read, but the drive failed one: say so.
                        v.notes.push_back(
                            m_client.describe(item) + ": the drive failed a read of it (" +
                            std::strerror(err) +
                            "); read again, it matched what was written. A drive that fails "
                            "reads may be failing: check it (smartctl) before trusting it further");
                    }
                }
            } catch (const Stopped&) {
                break;
            } catch (const Error& e) {
                if (e.stops_run()) {
                    throw;
                }
                reason = e.what();
            }
            if (reason.empty()) {
                good.push_back(std::move(item));
                continue;
            }
            for (const auto& w : item.written) {
                broken.insert(w.expected);
            }
            (wrong ? v.wrong : v.failed).emplace_back(std::move(item), reason);
        }
        bool renamed = false;
        for (auto& item : good) {
            bool orphan = std::any_of(item.relies_on.begin(), item.relies_on.end(),
                                      [&](const Digest& d) { return broken.contains(d); });
            if (orphan) {
                v.wrong.emplace_back(std::move(item),
                                     "a piece it shares with another file failed verification");
                continue;
            }
            try {
                m_client.place(item);
                renamed = renamed || !item.written.empty();
                v.placed.push_back(std::move(item));
            } catch (const Error& e) {
                if (e.stops_run()) {
                    throw;
                }
                v.failed.emplace_back(std::move(item), e.what());
            }
        }
        if (renamed) {
            m_medium.renamed_barrier();
        }
        return v;
    }

    Medium& m_medium;
    Client& m_client;
    ErrorSink& m_sink;
    RetryPolicy m_policy;
    BatchLimits m_limits;
    std::vector<Item> m_batch, m_retry;
    int64_t m_bytes = 0;
    std::set<Digest> m_batch_writes; // what the batch being filled writes
    HashPipeline m_pipe;        // the verifier thread's
    TrailingVerifier m_trailer; // re-reads large files while they are written
    // Last: destroyed first, so a batch still in flight finishes before the
    // members it uses go away.
    std::future<Verified> m_inflight;
};

} // namespace barge
