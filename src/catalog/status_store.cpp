#include "barge/catalog/status_store.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>

namespace barge {

namespace {

// Everything an undelivered entry needs is on the drive: symlinks and empty files
// travel inside the catalog; a file needs each piece there (sql_piece_here), or
// a copy at the destination to be renamed or copied from (sql_held_at_dest).
enum class OrAtDest { no, yes };
std::string on_cargo_condition(OrAtDest at_dest = OrAtDest::yes) {
    return fmt::format("(e.kind IS NOT {} OR (e.content_id IS NOT NULL AND (EXISTS (SELECT 1 FROM "
                       "contents c WHERE c.id = e.content_id AND (c.size = 0 OR (c.pieces IS NOT "
                       "NULL AND c.pieces = (SELECT count(*) FROM content_pieces cp JOIN pieces p "
                       "ON p.id = cp.piece_id WHERE cp.content_id = c.id AND {})))) OR {})))",
                       sql_kind(Kind::file), sql_piece_here,
                       at_dest == OrAtDest::yes ? sql_held_at_dest() : std::string("0"));
}

} // namespace

namespace {

// The files and symlinks of entries "e", as the status indexes select them.
std::string listed() {
    return sql_counted("e");
}

} // namespace

// Every query below names the partial index it must use (INDEXED BY): one that
// no longer matches its index fails when it is prepared instead of silently
// reading every entry (schema.cpp, version 2).
PairCounts StatusStore::pair_counts(int64_t pair_id) {
    PairCounts pc;
    // Kept with every write of entries (schema.cpp, triggers entries_delivered_*).
    Statement d = m_db.prepare("SELECT files, bytes FROM pair_delivered WHERE pair_id = ?");
    d.bind(1, pair_id);
    if (d.step()) {
        pc.delivered = {d.column_int(0), d.column_int(1)};
    }
    // The rest: what waits, travels or failed (once a tree is delivered, few).
    static const std::string others_sql = fmt::format(
        "SELECT CASE WHEN e.fail_reason IS NOT NULL THEN 'f' WHEN {on_cargo} THEN 'c' ELSE 'p' "
        "END AS state, count(*), total(CASE WHEN e.kind = {f} THEN e.size ELSE 0 END), "
        "total(CASE WHEN e.kind = {f} AND e.content_id IS NULL THEN 1 ELSE 0 END) FROM entries e "
        "INDEXED BY entries_undelivered WHERE e.pair_id = ? AND {listed} AND NOT {delivered} "
        "GROUP BY state",
        fmt::arg("on_cargo", on_cargo_condition()), fmt::arg("f", sql_kind(Kind::file)),
        fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered));
    Statement st = m_db.prepare(others_sql);
    st.bind(1, pair_id);
    while (st.step()) {
        std::string state = st.column_text(0);
        Counts c{st.column_int(1), static_cast<int64_t>(st.column_double(2))};
        if (state == "f") {
            pc.failed = c;
        } else if (state == "c") {
            pc.on_cargo = c;
        } else {
            pc.pending = c;
            pc.unhashed = static_cast<int64_t>(st.column_double(3));
        }
    }
    // The oldest and newest verification of a delivered file: the two ends of the
    // order verify-destination works in.
    static const std::string verified_sql = fmt::format(
        "SELECT e.d_verified_ns FROM entries e INDEXED BY entries_verify WHERE e.pair_id = ? AND "
        "e.d_kind = {f} AND e.kind = {f} AND {listed} AND {delivered} AND e.d_verified_ns IS NOT "
        "NULL ORDER BY coalesce(e.d_verified_ns, 0) {{}}, e.id {{}} LIMIT 1",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("listed", listed()),
        fmt::arg("delivered", sql_delivered));
    static const std::string oldest_sql = fmt::format(fmt::runtime(verified_sql), "ASC", "ASC");
    static const std::string newest_sql = fmt::format(fmt::runtime(verified_sql), "DESC", "DESC");
    for (auto [sql, out] : {std::pair{&oldest_sql, &pc.oldest_verified_ns},
                             std::pair{&newest_sql, &pc.newest_verified_ns}}) {
        Statement ver = m_db.prepare(*sql);
        ver.bind(1, pair_id);
        if (ver.step()) {
            *out = ver.column_int(0);
        }
    }
    static const std::string deletions_sql =
        fmt::format("SELECT count(*) FROM entries e INDEXED BY entries_gone WHERE e.pair_id = ? "
                    "AND e.kind IS NULL AND e.d_kind IS NOT NULL AND e.d_kind != {}",
                    sql_kind(Kind::dir));
    Statement del = m_db.prepare(deletions_sql);
    del.bind(1, pair_id);
    pc.deletions_pending = del.step() ? del.column_int(0) : 0;
    return pc;
}

std::vector<FailureRow> StatusStore::failures(int64_t pair_id, size_t limit) {
    static const std::string sql = fmt::format(
        "SELECT e.parent, e.name, e.fail_reason FROM entries e INDEXED BY entries_failed WHERE "
        "e.pair_id = ? AND e.fail_reason IS NOT NULL AND NOT {} ORDER BY e.fail_ns DESC LIMIT ?",
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
    static const std::string sql = fmt::format(
        "SELECT count(*), total(e.size) FROM entries e INDEXED BY entries_undelivered WHERE "
        "e.pair_id = ? AND {listed} AND NOT {delivered} AND e.kind = {f} AND e.size > 0 AND "
        "{on_cargo}",
        fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered),
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("on_cargo", on_cargo_condition(OrAtDest::no)));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

Counts StatusStore::reclaimable() {
    // What the cargo holds, less the pieces some undelivered file still needs (the
    // rule of TransitStore::reclaimable_pieces, counted from the undelivered side).
    static const std::string needed_sql = fmt::format(
        "SELECT count(*), total(p.size) FROM pieces p WHERE p.on_cargo = 1 AND p.id IN (SELECT "
        "cp.piece_id FROM entries e INDEXED BY entries_undelivered JOIN content_pieces cp ON "
        "cp.content_id = e.content_id WHERE {listed} AND NOT {delivered} AND e.kind = {f} AND NOT "
        "EXISTS (SELECT 1 FROM staged s WHERE s.pair_id = e.pair_id AND s.content_id = "
        "cp.content_id AND s.idx = cp.idx))",
        fmt::arg("listed", listed()), fmt::arg("delivered", sql_delivered),
        fmt::arg("f", sql_kind(Kind::file)));
    Counts all = cargo();
    Statement st = m_db.prepare(needed_sql);
    if (st.step()) {
        all.files -= st.column_int(0);
        all.bytes -= static_cast<int64_t>(st.column_double(1));
    }
    return all;
}

std::vector<CounterMismatch> StatusStore::recount_delivered() {
    static const std::string sql = fmt::format(
        "SELECT p.id, coalesce(k.files, 0), coalesce(k.bytes, 0), coalesce(t.files, 0), "
        "coalesce(t.bytes, 0) FROM pairs p LEFT JOIN pair_delivered k ON k.pair_id = p.id LEFT "
        "JOIN (SELECT e.pair_id, count(*) AS files, sum(CASE WHEN e.kind = {f} THEN e.size ELSE 0 "
        "END) AS bytes FROM entries e WHERE {listed} AND {delivered} GROUP BY e.pair_id) t ON "
        "t.pair_id = p.id",
        fmt::arg("f", sql_kind(Kind::file)), fmt::arg("listed", listed()),
        fmt::arg("delivered", sql_delivered));
    std::vector<CounterMismatch> out;
    Statement st = m_db.prepare(sql);
    while (st.step()) {
        CounterMismatch m{st.column_int(0), {st.column_int(1), st.column_int(2)},
                          {st.column_int(3), st.column_int(4)}};
        if (m.kept.files != m.counted.files || m.kept.bytes != m.counted.bytes) {
            out.push_back(m);
        }
    }
    st.reset();
    for (const auto& m : out) {
        m_db.prepare("INSERT INTO pair_delivered(pair_id, files, bytes) VALUES (?, ?, ?) ON "
                     "CONFLICT(pair_id) DO UPDATE SET files = excluded.files, bytes = "
                     "excluded.bytes")
            .bind(1, m.pair_id)
            .bind(2, m.counted.files)
            .bind(3, m.counted.bytes)
            .run();
    }
    return out;
}

Counts StatusStore::cargo() {
    Statement st = m_db.prepare(
        "SELECT count(*), total(size) FROM pieces INDEXED BY pieces_cargo WHERE on_cargo = 1");
    if (!st.step()) {
        return {};
    }
    return {st.column_int(0), static_cast<int64_t>(st.column_double(1))};
}

} // namespace barge
