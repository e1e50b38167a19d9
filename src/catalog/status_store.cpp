#include "barge/catalog/status_store.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>

namespace barge {

namespace {

// Everything an undelivered entry needs is on the drive: symlinks and empty files
// travel inside the catalog; a file needs each piece there (sql_piece_here).
std::string on_cargo_condition() {
    return fmt::format("(e.kind = {} OR (e.content_id IS NOT NULL AND EXISTS (SELECT 1 FROM "
                       "contents c WHERE c.id = e.content_id AND (c.size = 0 OR (c.pieces IS NOT "
                       "NULL AND c.pieces = (SELECT count(*) FROM content_pieces cp JOIN pieces p "
                       "ON p.id = cp.piece_id WHERE cp.content_id = c.id AND {}))))))",
                       sql_kind(Kind::symlink), sql_piece_here);
}

} // namespace

PairCounts StatusStore::pair_counts(int64_t pair_id) {
    PairCounts pc;
    static const std::string counts_sql = fmt::format(
        "SELECT CASE WHEN {} THEN 'd' WHEN e.fail_reason IS NOT NULL THEN 'f' WHEN {} THEN 'c' "
        "ELSE 'p' END AS state, count(*), total(CASE WHEN e.kind = {f} THEN e.size ELSE 0 END), "
        "total(CASE WHEN e.kind = {f} AND e.content_id IS NULL THEN 1 ELSE 0 END) FROM entries e "
        "WHERE e.pair_id = ? AND e.kind IN ({f}, {l}) GROUP BY state",
        sql_delivered, on_cargo_condition(), fmt::arg("f", sql_kind(Kind::file)),
        fmt::arg("l", sql_kind(Kind::symlink)));
    Statement st = m_db.prepare(counts_sql);
    st.bind(1, pair_id);
    while (st.step()) {
        std::string state = st.column_text(0);
        Counts c{st.column_int(1), static_cast<int64_t>(st.column_double(2))};
        if (state == "d") {
            pc.delivered = c;
        } else if (state == "f") {
            pc.failed = c;
        } else if (state == "c") {
            pc.on_cargo = c;
        } else {
            pc.pending = c;
            pc.unhashed = static_cast<int64_t>(st.column_double(3));
        }
    }
    static const std::string verified_sql =
        fmt::format("SELECT min(e.d_verified_ns), max(e.d_verified_ns) FROM entries e WHERE "
                    "e.pair_id = ? AND e.kind = {} AND {}",
                    sql_kind(Kind::file), sql_delivered);
    Statement ver = m_db.prepare(verified_sql);
    ver.bind(1, pair_id);
    if (ver.step()) {
        pc.oldest_verified_ns = ver.column_optional_int(0);
        pc.newest_verified_ns = ver.column_optional_int(1);
    }
    static const std::string deletions_sql =
        fmt::format("SELECT count(*) FROM entries WHERE pair_id = ? AND kind IS NULL AND d_kind "
                    "IS NOT NULL AND d_kind != {}",
                    sql_kind(Kind::dir));
    Statement del = m_db.prepare(deletions_sql);
    del.bind(1, pair_id);
    pc.deletions_pending = del.step() ? del.column_int(0) : 0;
    return pc;
}

std::vector<FailureRow> StatusStore::failures(int64_t pair_id, size_t limit) {
    static const std::string sql =
        fmt::format("SELECT parent, name, fail_reason FROM entries e WHERE pair_id = ? AND "
                    "fail_reason IS NOT NULL AND NOT {} ORDER BY fail_ns DESC LIMIT ?",
                    sql_delivered);
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id).bind(2, static_cast<int64_t>(limit));
    std::vector<FailureRow> out;
    while (st.step()) {
        out.push_back({join_path(st.column_blob(0), st.column_blob(1)), st.column_text(2)});
    }
    return out;
}

Counts StatusStore::undelivered_on_cargo(int64_t pair_id) {
    static const std::string sql =
        fmt::format("SELECT count(*), total(e.size) FROM entries e WHERE e.pair_id = ? AND "
                    "e.kind = {} AND e.size > 0 AND NOT {} AND {}",
                    sql_kind(Kind::file), sql_delivered, on_cargo_condition());
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

Counts StatusStore::reclaimable() {
    Counts c;
    for (const auto& p : TransitStore(m_db).reclaimable_pieces()) {
        ++c.files;
        c.bytes += p.size;
    }
    return c;
}

Counts StatusStore::cargo() {
    Statement st = m_db.prepare("SELECT count(*), total(size) FROM pieces WHERE on_cargo = 1");
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

} // namespace barge
