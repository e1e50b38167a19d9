#include "barge/catalog/verify_store.hpp"

#include "barge/catalog/entries.hpp"
#include "barge/util/id_bits.hpp"
#include "barge/util/text.hpp"

#include <fmt/format.h>

#include <limits>

namespace barge {

int64_t VerifyStore::delivered_files(int64_t pair_id) {
    static const std::string sql = fmt::format(
        "SELECT count(*) FROM entries WHERE pair_id = ? AND d_kind = {}", sql_kind(Kind::file));
    Statement st = m_db.prepare(sql);
    st.bind(1, pair_id);
    return st.step() ? st.column_int(0) : 0;
}

namespace {

// The files verify-destination checks, in its order (entries_verify's: the
// verification time, then the id).
const std::string verify_from = fmt::format(
    "FROM entries e INDEXED BY entries_verify JOIN contents c ON c.id = e.d_content_id WHERE "
    "e.pair_id = ?1 AND e.d_kind = {} AND e.ord >= e.d_ord",
    sql_kind(Kind::file));

const std::string verify_order = " ORDER BY coalesce(e.d_verified_ns, 0), e.id";

// Rows a page holds: about 150 bytes each.
constexpr int64_t verify_page = 4096;

} // namespace

void VerifyStore::each_least_recently_verified(int64_t pair_id, int64_t limit,
                                               const std::function<bool(const VerifyItem&)>& fn) {
    // A page continues after the last row given: first the rows of its time
    // with a larger id, then the rows of later times (two range reads of the
    // index: one row value compared would be a scan from the pair's first row).
    static const std::string columns =
        "SELECT e.id, e.parent, e.name, c.hash, c.size, coalesce(e.d_verified_ns, 0) ";
    Statement same = m_db.prepare(columns + verify_from +
                                  " AND coalesce(e.d_verified_ns, 0) = ?2 AND e.id > ?3 ORDER BY e.id LIMIT ?4");
    Statement later = m_db.prepare(columns + verify_from + " AND coalesce(e.d_verified_ns, 0) > ?2" +
                                   verify_order + " LIMIT ?3");
    // A file fn stamps takes the time of its check, after every time read so
    // far (or, with a clock set back, before the page): one met again is
    // passed over. Ids of one pair are dense, so ten million take about 1.3 MiB.
    // Past the order's last key at the start, every row is one stamped since:
    // the reading ends there, not after a second pass over them (a pair with
    // superseded files never reaches the limit, which counts them).
    IdBits given;
    using Key = std::pair<int64_t, int64_t>; // (verification time, id)
    Key end{std::numeric_limits<int64_t>::min(), 0};
    {
        Statement last = m_db.prepare(
            "SELECT coalesce(e.d_verified_ns, 0), e.id FROM entries e INDEXED BY entries_verify WHERE "
            "e.pair_id = ?1 AND e.d_kind = " + std::string(sql_kind(Kind::file)) +
            " ORDER BY coalesce(e.d_verified_ns, 0) DESC, e.id DESC LIMIT 1");
        last.bind(1, pair_id);
        if (!last.step()) {
            return;
        }
        end = {last.column_int(0), last.column_int(1)};
    }
    Key after{std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::min()};
    std::vector<std::pair<Key, VerifyItem>> page;
    auto read = [&](Statement& st) {
        while (st.step()) {
            page.push_back({{st.column_int(5), st.column_int(0)},
                            {st.column_int(0), join_path(st.column_blob(1), st.column_blob(2)),
                             digest_from_bytes(st.column_blob(3)), st.column_int(4)}});
        }
        st.reset();
    };
    int64_t left = limit;
    while (left > 0) {
        page.clear();
        same.bind(1, pair_id).bind(2, after.first).bind(3, after.second).bind(4, verify_page);
        read(same);
        if (static_cast<int64_t>(page.size()) < verify_page) {
            later.bind(1, pair_id).bind(2, after.first).bind(3, verify_page - static_cast<int64_t>(page.size()));
            read(later);
        }
        if (page.empty()) {
            return;
        }
        after = page.back().first;
        for (const auto& [key, item] : page) {
            if (key > end) {
                return;
            }
            if (!given.insert(item.entry_id)) {
                continue;
            }
            --left;
            if (!fn(item) || left == 0) {
                return;
            }
        }
    }
}

VerifyTotals VerifyStore::least_recently_verified_totals(int64_t pair_id, int64_t limit) {
    Statement st = m_db.prepare("SELECT count(*), coalesce(sum(size), 0) FROM (SELECT c.size AS size " + verify_from +
                                verify_order + " LIMIT ?2)");
    st.bind(1, pair_id).bind(2, limit);
    VerifyTotals t;
    if (st.step()) {
        t.files = st.column_int(0);
        t.bytes = st.column_int(1);
    }
    return t;
}

void VerifyStore::set_verified(int64_t entry_id, int64_t now) {
    // A file found damaged earlier that reads right again (repaired by hand) is
    // delivered again, and the failure that damage recorded is over. (An entry
    // marked damaged without a failure keeps its misses: a verification of the
    // destination's copy says nothing of the source.)
    m_db.prepare(
            "UPDATE entries SET d_verified_ns = ?, d_damaged = 0, fail_reason = CASE WHEN "
            "d_damaged = 1 THEN NULL ELSE fail_reason END, fail_ns = CASE WHEN d_damaged = 1 "
            "AND fail_reason IS NOT NULL THEN NULL ELSE fail_ns END, fail_count = CASE WHEN "
            "d_damaged = 1 AND fail_reason IS NOT NULL THEN 0 ELSE fail_count END WHERE id = ?")
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
