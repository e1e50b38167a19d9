#include "barge/hash/blake2b.hpp"

#include "barge/util/error.hpp"
#include "barge/util/text.hpp"

#include <blake2.h>
#include <cstring>

namespace barge {

struct Blake2b::State {
    blake2b_state s;
};

Blake2b::Blake2b() : m_state(std::make_unique<State>()) {
    if (blake2b_init(&m_state->s, BLAKE2B_OUTBYTES) != 0) {
        throw Error("blake2b_init failed");
    }
}

Blake2b::~Blake2b() = default;
Blake2b::Blake2b(Blake2b&&) noexcept = default;
Blake2b& Blake2b::operator=(Blake2b&&) noexcept = default;

void Blake2b::update(const void* data, size_t size) {
    blake2b_update(&m_state->s, static_cast<const uint8_t*>(data), size);
}

Digest Blake2b::final() {
    Digest d{};
    blake2b_final(&m_state->s, d.data(), d.size());
    blake2b_init(&m_state->s, BLAKE2B_OUTBYTES);
    return d;
}

Digest blake2b(std::string_view data) {
    Blake2b h;
    h.update(data);
    return h.final();
}

std::string digest_hex(const Digest& d) {
    return to_hex(d);
}

Digest digest_from_bytes(std::string_view raw) {
    if (raw.size() != 64) {
        throw CatalogError("catalog holds a hash of " + std::to_string(raw.size()) +
                           " bytes instead of 64");
    }
    Digest d{};
    std::memcpy(d.data(), raw.data(), 64);
    return d;
}

} // namespace barge
