#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/catalog/transit.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <iterator>
#include <random>
#include <string>

using namespace barge;

namespace {

// The delivered files of a pair counted the slow way: every entry, through the
// one definition of "delivered" (sql_delivered).
Counts counted_delivered(Database& db, int64_t pair_id) {
    Statement st = db.prepare(
        std::string("SELECT count(*), coalesce(sum(CASE WHEN e.kind = 1 THEN e.size ELSE 0 END), 0) "
                    "FROM entries e WHERE e.pair_id = ? AND ") +
        sql_counted("e") + " AND " + sql_delivered);
    st.bind(1, pair_id);
    EXPECT_TRUE(st.step());
    return {st.column_int(0), st.column_int(1)};
}

Counts counted_listed(Database& db, int64_t pair_id) {
    // Every kind but directories, spelled out: a check on sql_counted too.
    Statement st = db.prepare(
        "SELECT count(*), coalesce(sum(CASE WHEN kind = 1 THEN size ELSE 0 END), 0) FROM entries "
        "WHERE pair_id = ? AND kind IS NOT NULL AND kind != 2");
    st.bind(1, pair_id);
    EXPECT_TRUE(st.step());
    return {st.column_int(0), st.column_int(1)};
}

int64_t add_pair(Catalog& c, const std::string& name) {
    PairSettings s;
    s.name = name;
    s.source = "/src/" + name;
    s.dest = "/dst/" + name;
    return c.add_pair(s, "uuid-" + name).id;
}

} // namespace

// Random writes of every column "delivered" depends on, deletions, and a pair
// removed: after each, the kept counts are what a full count of the entries says.
TEST(StatusStore, KeptDeliveredCountsMatchAFullCount) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    int64_t pairs[3] = {add_pair(c, "a"), add_pair(c, "b"), add_pair(c, "c")};
    for (int i = 1; i <= 4; ++i) {
        db.prepare("INSERT INTO contents(id, hash, size) VALUES (?, randomblob(64), ?)")
            .bind(1, i)
            .bind(2, i * 100)
            .run();
    }
    std::mt19937 rng(42);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto maybe = [&](int v) { return pick(3) == 0 ? std::string("NULL") : std::to_string(v); };
    auto check = [&](const std::string& after) {
        StatusStore store(db);
        for (int64_t p : pairs) {
            PairCounts pc = store.pair_counts(p);
            Counts want = counted_delivered(db, p);
            ASSERT_EQ(pc.delivered.files, want.files) << "pair " << p << " after " << after;
            ASSERT_EQ(pc.delivered.bytes, want.bytes) << "pair " << p << " after " << after;
            Counts all = counted_listed(db, p);
            ASSERT_EQ(pc.delivered.files + pc.pending.files + pc.on_cargo.files + pc.failed.files,
                      all.files)
                << "the states do not add up for pair " << p << " after " << after;
        }
        Transaction tx(db);
        ASSERT_TRUE(store.recount_delivered().empty()) << "after " << after;
        tx.commit();
    };
    const char* cols[] = {"kind",     "mode",       "mtime_ns",     "target",    "size",
                          "content_id", "d_kind",   "d_mode",       "d_mtime_ns", "d_target",
                          "d_content_id", "d_damaged", "pair_id",    "xattrs",    "d_xattrs",
                          "uid",        "d_uid",    "gid",          "d_gid"};
    const int ncols = static_cast<int>(std::size(cols));
    int64_t next = 1;
    for (int op = 0; op < 3000; ++op) {
        int what = pick(10);
        if (what < 4 || next < 10) {
            // A new entry, delivered or not, of any kind (files, directories,
            // symlinks, FIFOs, devices).
            int kind = 1 + pick(6);
            int content = 1 + pick(4);
            bool delivered = pick(2) == 0;
            std::string target = kind == 3 ? "CAST('t' AS BLOB)" : "NULL";
            db.exec(fmt::format(
                "INSERT INTO entries(id, pair_id, parent, name, kind, mode, size, mtime_ns, "
                "content_id, target, d_kind, d_mode, d_mtime_ns, d_content_id, d_target, d_uid, "
                "d_gid) VALUES ({id}, {pair}, CAST('' AS BLOB), CAST('n{id}' AS BLOB), {kind}, 420, "
                "{size}, 7, {content}, {target}, {dk}, 420, 7, {dc}, {target}, {du}, {du})",
                fmt::arg("id", next), fmt::arg("pair", pairs[pick(3)]), fmt::arg("kind", kind),
                fmt::arg("size", content * 100), fmt::arg("content", content),
                fmt::arg("target", target), fmt::arg("dk", delivered ? std::to_string(kind) : "NULL"),
                fmt::arg("dc", delivered ? std::to_string(content) : "NULL"),
                fmt::arg("du", delivered ? "0" : "NULL")));
            ++next;
        } else if (what < 9) {
            // One column of a random entry changed (or the delivery recorded again).
            std::string col = cols[pick(ncols)];
            std::string value = col == "pair_id"      ? std::to_string(pairs[pick(3)])
                                : col == "d_damaged"  ? std::to_string(pick(2))
                                : col == "kind" || col == "d_kind" ? maybe(1 + pick(6))
                                : col == "mode" || col == "d_mode" ? std::to_string(420 + pick(2))
                                : col == "mtime_ns" || col == "d_mtime_ns" ? std::to_string(7 + pick(2))
                                : col == "target" || col == "d_target" ? (pick(2) ? "CAST('t' AS BLOB)" : "NULL")
                                : col == "xattrs" || col == "d_xattrs" ? (pick(2) ? "CAST('a' AS BLOB)" : "NULL")
                                : col == "uid" || col == "d_uid" || col == "gid" || col == "d_gid" ? std::to_string(pick(2))
                                : col == "size" ? std::to_string(pick(1000))
                                                : maybe(1 + pick(4));
            if (pick(4) == 0) { // delivered now: the destination's half set from the source's
                db.exec(fmt::format("UPDATE entries SET d_kind = kind, d_mode = mode, d_mtime_ns = "
                                    "mtime_ns, d_target = target, d_content_id = content_id, "
                                    "d_xattrs = xattrs, d_uid = uid, d_gid = gid, d_damaged = 0 "
                                    "WHERE id = {}",
                                    1 + pick(static_cast<int>(next - 1))));
            } else {
                db.exec(fmt::format("UPDATE entries SET {} = {} WHERE id = {}", col, value,
                                    1 + pick(static_cast<int>(next - 1))));
            }
        } else {
            db.exec(fmt::format("DELETE FROM entries WHERE id = {}", 1 + pick(static_cast<int>(next - 1))));
        }
        if (op % 100 == 99) {
            check("op " + std::to_string(op));
        }
    }
    Counts before = counted_delivered(db, pairs[1]);
    ASSERT_GT(before.files, 0) << "the test wants a pair with delivered files to remove";
    db.exec(fmt::format("DELETE FROM pairs WHERE id = {}", pairs[1]));
    check("removing a pair");
}

TEST(StatusStore, RecountSetsWrongKeptCountsRight) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    int64_t p = add_pair(c, "a");
    db.exec("INSERT INTO contents(id, hash, size) VALUES (1, randomblob(64), 5)");
    db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, mode, size, mtime_ns, "
                        "content_id, d_kind, d_mode, d_mtime_ns, d_content_id, d_uid, d_gid) VALUES "
                        "({}, CAST('' AS BLOB), CAST('f' AS BLOB), 1, 420, 5, 7, 1, 1, 420, 7, 1, 0, 0)",
                        p));
    StatusStore store(db);
    EXPECT_EQ(store.pair_counts(p).delivered.files, 1);
    db.exec("UPDATE pair_delivered SET files = 9, bytes = 99");
    Transaction tx(db);
    auto wrong = store.recount_delivered();
    tx.commit();
    ASSERT_EQ(wrong.size(), 1u);
    EXPECT_EQ(wrong[0].kept.files, 9);
    EXPECT_EQ(wrong[0].counted.files, 1);
    EXPECT_EQ(wrong[0].counted.bytes, 5);
    EXPECT_EQ(store.pair_counts(p).delivered.bytes, 5);
}
