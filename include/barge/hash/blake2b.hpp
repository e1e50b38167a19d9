#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace barge {

// A BLAKE2b-512 digest: the content address of files and pieces.
using Digest = std::array<uint8_t, 64>;

// Lower-case hex, 128 characters: the same text `b2sum` prints.
std::string digest_hex(const Digest& d);
// Digest from 64 raw bytes (a catalog BLOB); nullopt-like failure throws CatalogError.
Digest digest_from_bytes(std::string_view raw);
// The digest's raw bytes, for storing as a BLOB.
inline std::string_view digest_bytes(const Digest& d) {
    return {reinterpret_cast<const char*>(d.data()), d.size()};
}

// Streaming BLAKE2b (RFC 7693), sequential and unkeyed, written here rather
// than taken from libb2: Debian's libb2 dispatches to SIMD code that hashes at
// half the speed of plain 64-bit C on the machine measured (docs/benchmarks.md,
// "The hash itself"), and every byte barge carries is hashed at least twice.
// The unit tests check it against libb2 and the RFC's vectors. Keyed BLAKE2b
// (encryption's names and masks) stays with libb2: nothing secret-keyed is
// written here.
//
// The default is BLAKE2b-512: the digest equals `b2sum`'s for the same bytes.
// Other digest sizes (1-64) are BLAKE2b's own parameter sets, not truncations.
class Blake2b {
public:
    static constexpr size_t block_size = 128;
    static constexpr size_t max_digest_size = 64;

    Blake2b() : Blake2b(max_digest_size) {}
    // Throws Error for a digest size outside 1-64.
    explicit Blake2b(size_t digest_size);

    void update(const void* data, size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // Finishes and returns the 64-byte digest (digest size 64 only); the object
    // starts over afterwards.
    Digest final();
    // Finishes into `out`, which holds exactly the digest size; starts over.
    void final(std::span<uint8_t> out);

private:
    void start();
    void compress(const uint8_t* block, bool last);

    std::array<uint64_t, 8> m_h{};
    uint64_t m_t0 = 0;
    uint64_t m_t1 = 0;
    std::array<uint8_t, block_size> m_buf{};
    size_t m_buf_len = 0;
    size_t m_digest_size;
};

// One-shot digest of a buffer.
Digest blake2b(std::string_view data);

} // namespace barge
