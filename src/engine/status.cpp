#include "barge/engine/status.hpp"

#include "barge/catalog/transit.hpp"
#include "barge/fs/space.hpp"
#include "barge/util/text.hpp"

namespace barge {

namespace {

// Everything an undelivered entry needs is on the drive: symlinks and empty files
// travel inside the catalog; a file needs each piece on the cargo or already
// staged at this pair's destination.
const char* const on_cargo_sql =
    "(e.kind = 3 OR (e.content_id IS NOT NULL AND EXISTS (SELECT 1 FROM contents c WHERE "
    "c.id = e.content_id AND (c.size = 0 OR (c.pieces IS NOT NULL AND c.pieces = (SELECT count(*) "
    "FROM content_pieces cp JOIN pieces p ON p.id = cp.piece_id WHERE cp.content_id = c.id AND "
    "(p.on_cargo = 1 OR EXISTS (SELECT 1 FROM staged s WHERE s.pair_id = e.pair_id AND "
    "s.content_id = c.id AND s.idx = cp.idx))))))))";

} // namespace

PairStatus pair_status(Catalog& catalog, const Pair& pair, size_t max_failures) {
    PairStatus ps;
    Database& db = catalog.db();
    Statement st = db.prepare(std::string("SELECT CASE WHEN ") + sql_delivered +
                              " THEN 'd' WHEN e.fail_reason IS NOT NULL THEN 'f' WHEN " +
                              on_cargo_sql +
                              " THEN 'c' ELSE 'p' END AS state, count(*), "
                              "total(CASE WHEN e.kind = 1 THEN e.size ELSE 0 END), "
                              "total(CASE WHEN e.kind = 1 AND e.content_id IS NULL THEN 1 ELSE 0 END) "
                              "FROM entries e WHERE e.pair_id = ? AND e.kind IN (1, 3) GROUP BY state");
    st.bind(1, pair.id);
    while (st.step()) {
        std::string state = st.column_text(0);
        Counts c{st.column_int(1), static_cast<int64_t>(st.column_double(2))};
        if (state == "d") {
            ps.delivered = c;
        } else if (state == "f") {
            ps.failed = c;
        } else if (state == "c") {
            ps.on_cargo = c;
        } else {
            ps.pending = c;
            ps.unhashed = static_cast<int64_t>(st.column_double(3));
        }
    }
    Statement ver = db.prepare(std::string("SELECT min(e.d_verified_ns), max(e.d_verified_ns) FROM "
                                           "entries e WHERE e.pair_id = ? AND e.kind = 1 AND ") +
                               sql_delivered);
    ver.bind(1, pair.id);
    if (ver.step()) {
        ps.oldest_verified_ns = ver.column_optional_int(0);
        ps.newest_verified_ns = ver.column_optional_int(1);
    }
    Statement del = db.prepare("SELECT count(*) FROM entries WHERE pair_id = ? AND kind IS NULL "
                               "AND d_kind IS NOT NULL AND d_kind != 2");
    del.bind(1, pair.id);
    ps.deletions_pending = del.step() ? del.column_int(0) : 0;
    Statement fail = db.prepare(std::string("SELECT parent, name, fail_reason FROM entries e WHERE "
                                            "pair_id = ? AND fail_reason IS NOT NULL AND NOT ") +
                                sql_delivered + " ORDER BY fail_ns DESC LIMIT ?");
    fail.bind(1, pair.id).bind(2, static_cast<int64_t>(max_failures));
    while (fail.step()) {
        ps.failures.push_back(
            {join_path(fail.column_blob(0), fail.column_blob(1)), fail.column_text(2)});
    }
    return ps;
}

CargoStatus cargo_status(Catalog& catalog, const DriveLayout& layout) {
    CargoStatus cs;
    Statement st = catalog.db().prepare("SELECT count(*), total(size) FROM pieces WHERE on_cargo = 1");
    if (st.step()) {
        cs.pieces = st.column_int(0);
        cs.used_bytes = static_cast<uint64_t>(st.column_double(1));
    }
    Space sp = fs_space(layout.cargo());
    cs.free_bytes = sp.available;
    cs.capacity_bytes = sp.capacity;
    return cs;
}

int64_t trips_needed(int64_t bytes, int64_t room) {
    if (bytes <= 0) {
        return 0;
    }
    if (room <= 0) {
        return -1; // cannot be carried on this drive as it is
    }
    return (bytes + room - 1) / room;
}

} // namespace barge
