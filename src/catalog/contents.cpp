#include "barge/catalog/contents.hpp"

#include "barge/catalog/schema.hpp"
#include "barge/util/error.hpp"

#include <fmt/format.h>

namespace barge {

std::string sql_hash_is(std::string_view alias, std::string_view value) {
    return fmt::format("substr({a}.hash, 1, 8) = substr({v}, 1, 8) AND {a}.hash = {v}",
                       fmt::arg("a", alias), fmt::arg("v", value));
}

Forgotten forget_unneeded(Database& db, Forget scope) {
    const ForgetSql& sql = sql_forget_unneeded();
    Forgotten out;
    if (scope == Forget::all) {
        db.exec(sql.note_all);
    }
    db.exec(sql.prepare);
    db.exec(sql.contents);
    out.contents = db.changes();
    db.exec(sql.prepare_pieces);
    db.exec(sql.pieces);
    out.pieces = db.changes();
    db.exec(sql.finish);
    return out;
}

int64_t upsert_content(Database& db, const Digest& hash, int64_t size, std::optional<int64_t> pieces) {
    static const std::string find =
        "SELECT c.id FROM contents c INDEXED BY contents_hash WHERE " + sql_hash_is("c", "?1");
    Statement found = db.prepare(find);
    found.bind_blob(1, digest_bytes(hash));
    if (found.step()) {
        int64_t id = found.column_int(0);
        found.reset();
        if (pieces) {
            db.prepare("UPDATE contents SET pieces = ?1 WHERE id = ?2 AND pieces IS NOT ?1")
                .bind(1, *pieces)
                .bind(2, id)
                .run();
        }
        return id;
    }
    found.reset();
    Statement st = db.prepare("INSERT INTO contents(hash, size, pieces) VALUES (?, ?, ?) RETURNING id");
    st.bind_blob(1, digest_bytes(hash)).bind(2, size).bind(3, pieces);
    if (!st.step()) {
        throw CatalogError(fmt::format("catalog '{}': no row for a content", db.path()));
    }
    int64_t id = st.column_int(0);
    st.reset();
    return id;
}

} // namespace barge
