#include "barge/catalog/verify_store.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>

namespace barge {

int64_t VerifyStore::delivered_files(int64_t pair_id) {
    static const std::string sql = fmt::format(
        "SELECT count(*) FROM entries WHERE pair_id = ? AND d_kind = {}", sql_kind(Kind::file));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    return st.step() ? st.column_int(0) : 0;
}

std::vector<VerifyItem> VerifyStore::least_recently_verified(int64_t pair_id, int64_t limit) {
    static const std::string sql = fmt::format(
        "SELECT e.id, e.parent, e.name, c.hash, c.size FROM entries e JOIN contents c ON c.id = "
        "e.d_content_id WHERE e.pair_id = ? AND e.d_kind = {} AND e.ord >= e.d_ord ORDER BY "
        "coalesce(e.d_verified_ns, "
        "0), e.id LIMIT ?",
        sql_kind(Kind::file));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind(2, limit);
    std::vector<VerifyItem> out;
    while (st.step()) {
        out.push_back({st.column_int(0), join_path(st.column_blob(1), st.column_blob(2)),
                       digest_from_bytes(st.column_blob(3)), st.column_int(4)});
    }
    return out;
}

void VerifyStore::set_verified(int64_t entry_id, int64_t now) {
    // A file found damaged earlier that reads right again (repaired by hand) is
    // delivered again.
    m_db.prepare("UPDATE entries SET d_verified_ns = ?, d_damaged = 0, fail_reason = CASE WHEN "
                 "d_damaged = 1 THEN NULL ELSE fail_reason END WHERE id = ?")
        .bind(1, now)
        .bind(2, entry_id)
        .run();
}

void VerifyStore::set_damaged(int64_t entry_id, const std::string& reason, int64_t now) {
    // Not delivered any more (sql_delivered), so the next load carries it again;
    // d_content_id stays: what the destination should hold, checked again by every
    // verify-destination until a delivery repairs it.
    m_db.prepare("UPDATE entries SET d_damaged = 1, d_verified_ns = ?, fail_reason = ?, "
                 "fail_ns = ?, fail_count = fail_count + 1 WHERE id = ?")
        .bind(1, now)
        .bind_text(2, reason)
        .bind(3, now)
        .bind(4, entry_id)
        .run();
}

std::vector<std::string> VerifyStore::files_needing_piece(int64_t piece_id,
                                                          const std::vector<int64_t>& pair_ids,
                                                          int limit) {
    // The pair ids as a JSON array, expanded by json_each: one statement whatever
    // their number, no SQL built from values.
    std::string ids = "[";
    for (size_t i = 0; i < pair_ids.size(); ++i) {
        ids += (i ? "," : "") + std::to_string(pair_ids[i]);
    }
    ids += "]";
    static const std::string sql = fmt::format(
        "SELECT DISTINCT pr.source, e.parent, e.name FROM content_pieces cp JOIN entries e ON "
        "e.content_id = cp.content_id JOIN pairs pr ON pr.id = e.pair_id WHERE cp.piece_id = ? "
        "AND e.kind = {} AND e.pair_id IN (SELECT value FROM json_each(?)) LIMIT ?",
        sql_kind(Kind::file));
    Statement st = m_db.prepare(sql);
    st.bind(1, piece_id).bind_text(2, ids).bind(3, limit);
    std::vector<std::string> out;
    while (st.step()) {
        out.push_back(join_path(st.column_blob(0), join_path(st.column_blob(1), st.column_blob(2))));
    }
    return out;
}

} // namespace barge
