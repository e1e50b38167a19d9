#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/catalog/verify_store.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

using namespace barge;

namespace {

// Enough for more than three pages of verify-destination's read (4,096 rows)
// once the superseded are left out.
constexpr int64_t files = 4 * 4096 + 10;

struct Row {
    int64_t id;
    std::optional<int64_t> verified;
    int64_t size;
    bool eligible; // not superseded by another drive's newer delivery
};

// A pair whose delivered files have every kind of verification time: never
// (NULL), one time shared by thousands (across page bounds), and times that
// fall as ids rise; every seventh superseded (ord < d_ord: not verified).
std::vector<Row> fill(Catalog& c, int64_t pair_id) {
    std::vector<Row> rows;
    Transaction tx(c.db());
    Statement content = c.db().prepare("INSERT INTO contents(id, hash, size, pieces) VALUES (?1, "
                                       "randomblob(64), ?2, 1)");
    Statement entry = c.db().prepare(
        "INSERT INTO entries(id, pair_id, parent, name, kind, size, content_id, d_kind, d_content_id, "
        "d_verified_ns, ord, d_ord) VALUES (?1, ?2, CAST('d' AS BLOB), CAST(?1 AS BLOB), 1, ?3, ?1, 1, "
        "?1, ?4, ?5, 1)");
    for (int64_t id = 1; id <= files; ++id) {
        std::optional<int64_t> v;
        if (id % 3 == 1) {
            v = 5000;
        } else if (id % 3 == 2) {
            v = 1000 + (files - id);
        }
        int64_t size = id * 7 % 1000;
        bool eligible = id % 7 != 0;
        content.bind(1, id).bind(2, size).run();
        content.reset();
        entry.bind(1, id).bind(2, pair_id).bind(3, size).bind(5, eligible ? 1 : 0);
        if (v) {
            entry.bind(4, *v);
        } else {
            entry.bind_null(4);
        }
        entry.run();
        entry.reset();
        rows.push_back({id, v, size, eligible});
    }
    tx.commit();
    return rows;
}

// The order the whole set of files takes, least recently verified first.
std::vector<int64_t> expected_order(const std::vector<Row>& rows) {
    std::vector<std::tuple<int64_t, int64_t>> keys;
    for (const Row& r : rows) {
        if (r.eligible) {
            keys.emplace_back(r.verified.value_or(0), r.id);
        }
    }
    std::sort(keys.begin(), keys.end());
    std::vector<int64_t> ids;
    for (const auto& k : keys) {
        ids.push_back(std::get<1>(k));
    }
    return ids;
}

} // namespace

// verify-destination reads its files a page at a time (SPEC §8). Stamping each
// file as it is checked moves it in the very order being read: to the end (the
// clock's now) or, with a clock set back, before the page. Every file is still
// given once, in the order the catalog had when the run began.
TEST(VerifyStore, PagesGiveEachFileOnceInTheOrderBeforeTheRun) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    int64_t pair_id = c.add_pair({.name = "p", .source = "/s", .dest = "/d"}, "u").id;
    std::vector<Row> rows = fill(c, pair_id);
    std::vector<int64_t> want = expected_order(rows);
    ASSERT_GT(want.size(), 3u * 4096u);
    VerifyStore store(c.db());

    // Totals of a limit, counted in SQL.
    int64_t bytes_of_first_5000 = 0;
    for (size_t k = 0; k < 5000; ++k) {
        bytes_of_first_5000 += rows[static_cast<size_t>(want[k] - 1)].size;
    }
    VerifyTotals part = store.least_recently_verified_totals(pair_id, 5000);
    EXPECT_EQ(part.files, 5000);
    EXPECT_EQ(part.bytes, bytes_of_first_5000);
    EXPECT_EQ(store.least_recently_verified_totals(pair_id, files).files, static_cast<int64_t>(want.size()));

    // A limit, and a stop asked for by the caller.
    std::vector<int64_t> got;
    store.each_least_recently_verified(pair_id, 5000, [&](const VerifyItem& it) {
        got.push_back(it.entry_id);
        return true;
    });
    EXPECT_EQ(got, std::vector<int64_t>(want.begin(), want.begin() + 5000));
    got.clear();
    store.each_least_recently_verified(pair_id, files, [&](const VerifyItem& it) {
        got.push_back(it.entry_id);
        return got.size() < 4100;
    });
    EXPECT_EQ(got, std::vector<int64_t>(want.begin(), want.begin() + 4100));

    // The whole set, each file stamped as it is given: most with a time after
    // every other (moved to the end, ahead of the reading), one in five with
    // time 1, as from a clock set back: ahead of the reading while it is among
    // the never verified files (0), behind it afterwards. The limit is larger
    // than what there is, as delivered_files counts the superseded files too.
    got.clear();
    std::vector<int64_t> stamped_back;
    int64_t now = 1'000'000;
    Transaction tx(c.db());
    store.each_least_recently_verified(pair_id, files, [&](const VerifyItem& it) {
        got.push_back(it.entry_id);
        EXPECT_EQ(it.size, rows[static_cast<size_t>(it.entry_id - 1)].size);
        EXPECT_EQ(it.rel, "d/" + std::to_string(it.entry_id));
        if (got.size() % 5 == 0) {
            store.set_damaged(it.entry_id, "test", 1);
            stamped_back.push_back(it.entry_id);
        } else {
            store.set_verified(it.entry_id, ++now);
        }
        return true;
    });
    tx.commit();
    EXPECT_EQ(got, want);
    EXPECT_EQ(std::set<int64_t>(got.begin(), got.end()).size(), got.size()) << "a file given twice";

    // The next run starts from the files stamped furthest back, by id.
    std::sort(stamped_back.begin(), stamped_back.end());
    got.clear();
    store.each_least_recently_verified(pair_id, 3, [&](const VerifyItem& it) {
        got.push_back(it.entry_id);
        return true;
    });
    EXPECT_EQ(got, std::vector<int64_t>(stamped_back.begin(), stamped_back.begin() + 3));
}

// A copy found damaged at the destination and read right again is delivered
// again, and the failure that damage recorded (set_damaged) is over. A
// verification says nothing of the source, so the misses of a file that keeps
// changing (TransitStore::note_miss) stay, also on an entry marked damaged
// without a failure (mark_damaged_at_dest).
TEST(VerifyStore, AVerificationEndsTheFailureADamageRecordedNotAMiss) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    int64_t pair_id = c.add_pair({.name = "p", .source = "/src", .dest = "/dst"}, "uuid").id;
    Database& db = c.db();
    EntryStore entries(db, 1);
    TransitStore transit(db);
    VerifyStore store(db);
    FileStat st;
    int64_t missed = entries.insert(pair_id, "", "missed", st, 1);
    int64_t marked = entries.insert(pair_id, "", "marked", st, 1);
    int64_t damaged = entries.insert(pair_id, "", "damaged", st, 1);
    transit.note_miss(missed, 100);
    transit.note_miss(marked, 100);
    transit.note_miss(marked, 200);
    transit.mark_damaged_at_dest(marked);
    store.set_damaged(damaged, "content differs", 300);
    for (int64_t id : {missed, marked, damaged}) {
        store.set_verified(id, 400);
    }
    auto state = [&](int64_t id) {
        Statement q = db.prepare("SELECT d_damaged, d_verified_ns, fail_reason IS NULL, fail_ns, "
                                 "fail_count FROM entries WHERE id = ?");
        q.bind(1, id);
        EXPECT_TRUE(q.step());
        return std::vector<std::optional<int64_t>>{
            q.column_int(0), q.column_int(1), q.column_int(2),
            q.is_null(3) ? std::nullopt : std::optional<int64_t>(q.column_int(3)), q.column_int(4)};
    };
    using V = std::vector<std::optional<int64_t>>;
    EXPECT_EQ(state(missed), (V{0, 400, 1, 100, 1})) << "a miss stays";
    EXPECT_EQ(state(marked), (V{0, 400, 1, 100, 2}))
        << "a miss stays on a damage without a failure";
    EXPECT_EQ(state(damaged), (V{0, 400, 1, std::nullopt, 0})) << "the damage's failure is over";
}
