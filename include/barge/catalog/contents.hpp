#pragma once

#include "barge/catalog/database.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace barge {

// The id of content (hash, size), created when new; pieces, when given, records
// how many pieces it is split into. The one way a content row is made.
int64_t upsert_content(Database& db, const Digest& hash, int64_t size,
                       std::optional<int64_t> pieces = std::nullopt);

// "Row `alias` of contents or pieces has the hash `value`" (an SQL expression: a
// parameter or another table's column), as the index on the hash's first 8 bytes
// can serve it (schema version 6): without the prefix term, a lookup by hash
// would read the whole table.
std::string sql_hash_is(std::string_view alias, std::string_view value);

// Forgets the contents and pieces nothing needs any more (docs/catalog.md, "What
// the catalog forgets"): those the catalog's triggers noted as having lost a
// user since the last call (Forget::noted: few, each looked up by index; every
// run does this as it ends), or all of them (Forget::all: a pass over the
// contents, for verify-middle). Returns the contents and pieces forgotten.
enum class Forget { noted, all };
struct Forgotten {
    int64_t contents = 0;
    int64_t pieces = 0;
};
Forgotten forget_unneeded(Database& db, Forget scope = Forget::noted);

} // namespace barge
