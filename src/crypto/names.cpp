#include "barge/crypto/names.hpp"

#include "barge/util/error.hpp"

#include <blake2.h>

namespace barge {

Digest keyed_blake2b(std::span<const uint8_t> key, std::span<const uint8_t> data) {
    if (key.empty() || key.size() > BLAKE2B_KEYBYTES) {
        throw Error("keyed BLAKE2b needs a key of 1 to 64 bytes");
    }
    Digest d{};
    if (::blake2b(d.data(), data.data(), key.data(), d.size(), data.size(), key.size()) != 0) {
        throw Error("blake2b failed");
    }
    return d;
}

Digest piece_name(const SecretKey& names_key, const Digest& plaintext_digest) {
    return keyed_blake2b(names_key.bytes(), plaintext_digest);
}

} // namespace barge
