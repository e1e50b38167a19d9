#pragma once

#include "barge/catalog/database.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <optional>

namespace barge {

// The id of content (hash, size), created when new; pieces, when given, records
// how many pieces it is split into. The one way a content row is made.
int64_t upsert_content(Database& db, const Digest& hash, int64_t size,
                       std::optional<int64_t> pieces = std::nullopt);

} // namespace barge
