#pragma once

#include "barge/crypto/keys.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <span>

namespace barge {

// Keyed BLAKE2b-512 (libb2's keyed mode) of data; key is 1 to 64 bytes.
Digest keyed_blake2b(std::span<const uint8_t> key, std::span<const uint8_t> data);

// The name of a piece on an encrypted drive: keyed BLAKE2b-512 of the plaintext piece's
// BLAKE2b-512 digest under the piece_names subkey, so the drive cannot confirm that it
// carries a known file. Deterministic: identical pieces still travel once.
Digest piece_name(const SecretKey& names_key, const Digest& plaintext_digest);

} // namespace barge
