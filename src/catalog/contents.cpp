#include "barge/catalog/contents.hpp"

#include "barge/util/error.hpp"

#include <fmt/format.h>

namespace barge {

int64_t upsert_content(Database& db, const Digest& hash, int64_t size, std::optional<int64_t> pieces) {
    Statement st = db.prepare("INSERT INTO contents(hash, size, pieces) VALUES (?, ?, ?) "
                              "ON CONFLICT(hash) DO UPDATE SET pieces = coalesce(excluded.pieces, "
                              "pieces) RETURNING id");
    st.bind_blob(1, digest_bytes(hash)).bind(2, size).bind(3, pieces);
    if (!st.step()) {
        throw CatalogError(fmt::format("catalog '{}': no row for a content", db.path()));
    }
    return st.column_int(0);
}

} // namespace barge
