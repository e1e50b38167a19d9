#pragma once

#include <array>
#include <cstdint>
#include <memory>
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

// Streaming BLAKE2b-512 over libb2 (init / update / final), unkeyed:
// the digest equals `b2sum`'s for the same bytes.
class Blake2b {
public:
    Blake2b();
    ~Blake2b();
    Blake2b(Blake2b&&) noexcept;
    Blake2b& operator=(Blake2b&&) noexcept;

    void update(const void* data, size_t size);
    void update(std::string_view s) { update(s.data(), s.size()); }
    // Finishes and returns the digest; the object starts over afterwards.
    Digest final();

private:
    struct State;
    std::unique_ptr<State> m_state;
};

// One-shot digest of a buffer.
Digest blake2b(std::string_view data);

} // namespace barge
