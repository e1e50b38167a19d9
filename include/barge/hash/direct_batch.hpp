#pragma once

#include "barge/hash/blake2b.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace barge {

class HashPipeline;

// Small files read back from a medium many at once (SPEC §7.1, §8): each one
// whole, with O_DIRECT (from the device, never the page cache), the reads
// submitted together through Linux AIO so that the device works through a queue
// of them instead of one at a time. Files are added in the order they will be
// taken; take() waits for one, keeping up to `depth` reads in flight ahead of it.
// Anything unusual (no AIO, no O_DIRECT, an open or read error, a file longer
// than added by a page or more) makes take() answer nullopt, and the caller reads that file the
// ordinary way, which reports what is wrong. Not thread-safe.
class DirectBatch {
public:
    // Files up to this size are taken; larger ones are read behind their writer.
    static constexpr int64_t max_size = 256 << 10;

    explicit DirectBatch(size_t depth = 32);
    ~DirectBatch(); // waits for the reads in flight
    DirectBatch(const DirectBatch&) = delete;
    DirectBatch& operator=(const DirectBatch&) = delete;

    // Queues name (beneath dirfd, never following a symlink), written `size`
    // bytes long; its ticket for take(), or nullopt when it is not taken (too big,
    // or no AIO here). dirfd must stay open until the file is taken.
    std::optional<size_t> add(int dirfd, std::string name, int64_t size);
    // The file's bytes as read from the medium (valid until the next take()), or
    // nullopt: read it the ordinary way. Tickets are taken in increasing order.
    std::optional<std::span<const char>> take(size_t ticket);
    // After take() answered nullopt: the error the device gave for this file's
    // read (EIO, ...), or 0 when none did (not read, no O_DIRECT here, longer
    // than written). The ordinary read that follows may succeed: the caller
    // should still say that the drive failed a read once.
    int error(size_t ticket) const;

private:
    struct Slot;
    void submit_through(size_t last);
    void submit(size_t i);
    void reap(); // waits for at least one read in flight and records what finished

    unsigned long m_ctx = 0; // aio_context_t
    bool m_broken = false;   // no AIO, or io_getevents failed: nothing more is submitted
    size_t m_depth;
    std::vector<Slot> m_slots;
    size_t m_submitted = 0; // slots [0, m_submitted) were submitted or given up
    size_t m_in_flight = 0;
    size_t m_free_from = 0; // slots before it hold no buffer
};

// The digest of bytes as the pipeline hashes a stream (its filter included),
// fed in its blocks; bytes_read is their count.
Digest hash_bytes(HashPipeline& pipeline, std::span<const char> bytes, uint64_t& bytes_read);

} // namespace barge
