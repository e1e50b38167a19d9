// The knowledge merge of several drives (docs/rotation.md): whatever order the
// other drives' catalog copies arrive in at an endpoint, and however often
// they are merged, a drive ends up knowing, for every path, the destination
// state with the greatest order stamp; facts about drives keep the newest
// generation, and "lost" is never forgotten.
#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/contents.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/rotation.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <functional>
#include <gtest/gtest.h>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

using namespace barge;

namespace {

constexpr int paths = 60;

PairSettings settings() {
    return {.name = "p", .source = "/nonexistent/src", .dest = "/nonexistent/dst", .options_ns = 1};
}

// The content a version has: a function of its path and stamp, as in reality
// (one stamp is one observation of the source).
Digest content_of(int path, int64_t ord) {
    Digest d{};
    d[0] = static_cast<uint8_t>(path);
    d[1] = static_cast<uint8_t>(ord);
    d[2] = static_cast<uint8_t>(ord >> 8);
    return d;
}

// A drive's catalog whose entries know, for a random half of the paths, a
// version delivered with a random stamp.
void make_drive(const std::string& path, const std::string& id, std::mt19937& rng) {
    Catalog c = Catalog::create(path, 1 << 20, id);
    Pair p = c.add_pair(settings(), "pair-uuid");
    Statement ins = c.db().prepare(
        "INSERT INTO entries(pair_id, parent, name, kind, d_kind, d_mode, d_uid, d_gid, d_mtime_ns, "
        "d_content_id, d_ord) VALUES (?1, CAST('dir' AS BLOB), ?2, NULL, 1, 420, 0, 0, ?3, ?4, ?3)");
    for (int i = 0; i < paths; ++i) {
        if (rng() % 2 == 0) {
            continue;
        }
        int64_t ord = 1 + static_cast<int64_t>(rng() % 1000);
        int64_t content = upsert_content(c.db(), content_of(i, ord), ord);
        ins.bind(1, p.id).bind_blob(2, "f" + std::to_string(i)).bind(3, ord).bind(4, content);
        ins.run();
    }
    c.bump_generation();
}

// What the catalog at path knows of each path: (d_ord, content hash, size).
std::map<std::string, std::tuple<int64_t, std::string, int64_t>> known(Catalog& c) {
    std::map<std::string, std::tuple<int64_t, std::string, int64_t>> out;
    Statement st = c.db().prepare(
        "SELECT e.name, e.d_ord, c.hash, c.size FROM entries e LEFT JOIN contents c ON c.id = "
        "e.d_content_id WHERE e.d_kind IS NOT NULL ORDER BY e.name");
    while (st.step()) {
        out[st.column_blob(0)] = {st.column_int(1), st.column_blob(2), st.column_int(3)};
    }
    return out;
}

// A drive that merges the copies arriving one after another in `order`,
// merging after each arrival (twice: the second merge must change nothing).
std::map<std::string, std::tuple<int64_t, std::string, int64_t>>
merged_in_order(TestDir& dir, const std::string& name, const std::vector<std::string>& ids,
                const std::vector<int>& order) {
    std::string root = dir / name;
    std::filesystem::create_directories(root + "/.barge");
    Catalog me = Catalog::create(dir / (name + ".db"), 1 << 20, "me");
    me.add_pair(settings(), "pair-uuid");
    for (int k : order) {
        std::filesystem::copy_file(dir / (ids[static_cast<size_t>(k)] + ".db"),
                                   root + "/.barge/catalog-" + ids[static_cast<size_t>(k)] + ".db");
        for (int again = 0; again < 2; ++again) {
            Pair p = *me.find_pair("p");
            Transaction tx(me.db());
            merge_knowledge(me, p, End::dest, root, nullptr);
            tx.commit();
        }
    }
    EXPECT_EQ(known_drives(me.db(), me.find_pair("p")->id).size(), ids.size());
    return known(me);
}

// DIR/ID.db: a drive's catalog with the pair and one content (hash
// content_of(1, 1), 10 bytes), its rows written by fill, and its generation
// bumped as a run's end does.
void with_drive(TestDir& dir, const std::string& id,
                const std::function<void(Database& db, int64_t pair, int64_t content)>& fill) {
    Catalog c = Catalog::create(dir / (id + ".db"), 1 << 20, id);
    Pair p = c.add_pair(settings(), "pair-uuid");
    fill(c.db(), p.id, upsert_content(c.db(), content_of(1, 1), 10));
    c.bump_generation();
}

// The drive "me" (DIR/me.db) once it has merged the copy of "them"
// (DIR/them.db) found at an endpoint; `raised`: the names whose order the order
// record had just raised (learn_at_destination).
Catalog merged_into_me(TestDir& dir, const std::vector<std::string>& raised = {}) {
    std::string root = dir / "end";
    std::filesystem::create_directories(root + "/.barge");
    std::filesystem::copy_file(dir / "them.db", root + "/.barge/catalog-them.db");
    Catalog me = Catalog::open(dir / "me.db");
    IdBits raised_ids;
    Statement id_of = me.db().prepare("SELECT id FROM entries WHERE name = ?");
    for (const auto& name : raised) {
        id_of.bind_blob(1, name);
        EXPECT_TRUE(id_of.step()) << name;
        raised_ids.insert(id_of.column_int(0));
        id_of.reset();
    }
    {
        Pair p = *me.find_pair("p");
        Transaction tx(me.db());
        merge_knowledge(me, p, End::dest, root, nullptr, &raised_ids);
        tx.commit();
    }
    return me;
}

// DIR/ID.db: a drive (with_drive) whose rows (name, delivered order, left its
// link group, verified at) are files gone from the source that it delivered
// under 'dir'; one that left its link group has its delivered mtime forgotten.
using DeliveredRow = std::tuple<const char*, int64_t, bool, int64_t>;
void delivered_rows(TestDir& dir, const std::string& id, const std::vector<DeliveredRow>& rows) {
    with_drive(dir, id, [&](Database& db, int64_t pair, int64_t content) {
        Statement ins = db.prepare(
            "INSERT INTO entries(pair_id, parent, name, kind, d_kind, d_mode, d_uid, d_gid, d_mtime_ns, "
            "d_content_id, d_ord, d_verified_ns) VALUES (?1, CAST('dir' AS BLOB), ?2, NULL, 1, 420, 0, 0, "
            "?3, ?4, ?5, ?6)");
        for (const auto& [name, ord, left_group, verified] : rows) {
            ins.bind(1, pair).bind_blob(2, name).bind(4, content).bind(5, ord).bind(6, verified);
            ins.bind(3, left_group ? std::nullopt : std::optional<int64_t>(100));
            ins.run();
        }
    });
}

// Each entry's name -> (delivered mtime forgotten, verified at, delivered order).
std::map<std::string, std::tuple<bool, int64_t, int64_t>> delivered_as(Catalog& c) {
    Statement st = c.db().prepare("SELECT name, d_mtime_ns IS NULL, d_verified_ns, d_ord FROM entries");
    std::map<std::string, std::tuple<bool, int64_t, int64_t>> out;
    while (st.step()) {
        out[st.column_blob(0)] = {st.column_int(1) != 0, st.column_int(2), st.column_int(3)};
    }
    return out;
}

} // namespace

TEST(Rotation, MergeKeepsTheNewestStateWhateverTheOrder) {
    TestDir dir;
    std::mt19937 rng(13);
    std::vector<std::string> ids = {"drive-x", "drive-y", "drive-z"};
    for (const auto& id : ids) {
        make_drive(dir / (id + ".db"), id, rng);
    }
    // What every order must give: per path, the greatest stamp any drive knew.
    std::map<std::string, int64_t> newest;
    for (const auto& id : ids) {
        Catalog c = Catalog::open(dir / (id + ".db"));
        for (const auto& [name, v] : known(c)) {
            newest[name] = std::max(newest[name], std::get<0>(v));
        }
    }
    ASSERT_GT(newest.size(), 20u);
    std::vector<int> order = {0, 1, 2};
    std::map<std::string, std::tuple<int64_t, std::string, int64_t>> first;
    int n = 0;
    do {
        auto got = merged_in_order(dir, "end" + std::to_string(n++), ids, order);
        ASSERT_EQ(got.size(), newest.size());
        for (const auto& [name, v] : got) {
            int path = std::stoi(name.substr(1));
            EXPECT_EQ(std::get<0>(v), newest[name]) << name;
            Digest want = content_of(path, newest[name]);
            EXPECT_EQ(std::get<1>(v), std::string(reinterpret_cast<const char*>(want.data()), want.size()))
                << name;
        }
        if (first.empty()) {
            first = got;
        }
        EXPECT_EQ(got, first);
    } while (std::next_permutation(order.begin(), order.end()));
}

TEST(Rotation, LostIsNeverForgottenAndOlderFactsLose) {
    TestDir dir;
    std::mt19937 rng(7);
    make_drive(dir / "drive-x.db", "drive-x", rng);
    std::string root = dir / "end";
    std::filesystem::create_directories(root + "/.barge");
    Catalog me = Catalog::create(dir / "me.db", 1 << 20, "me");
    me.add_pair(settings(), "pair-uuid");
    auto merge = [&] {
        Pair p = *me.find_pair("p");
        Transaction tx(me.db());
        merge_knowledge(me, p, End::dest, root, nullptr);
        tx.commit();
    };
    std::filesystem::copy_file(dir / "drive-x.db", root + "/.barge/catalog-drive-x.db");
    merge();
    ASSERT_EQ(mark_drive_lost(me, "drive-x"), std::vector<std::string>{"p"});
    // drive-x comes back with a newer generation: still lost here, facts updated.
    {
        Catalog x = Catalog::open(dir / "drive-x.db");
        x.bump_generation();
        x.bump_generation();
    }
    std::filesystem::copy_file(dir / "drive-x.db", root + "/.barge/catalog-drive-x.db",
                               std::filesystem::copy_options::overwrite_existing);
    merge();
    auto drives = known_drives(me.db(), me.find_pair("p")->id);
    ASSERT_EQ(drives.size(), 1u);
    EXPECT_TRUE(drives[0].lost_ns.has_value());
    EXPECT_EQ(drives[0].generation, 3);
    // An older image of drive-x (generation 1) teaches nothing.
    auto before = known(me);
    {
        Catalog x = Catalog::create(dir / "old-x.db", 1 << 20, "drive-x");
        Pair p = x.add_pair(settings(), "pair-uuid");
        x.db().prepare("INSERT INTO entries(pair_id, parent, name, d_kind, d_mode, d_mtime_ns, d_ord) "
                       "VALUES (?, CAST('dir' AS BLOB), CAST('f1' AS BLOB), 1, 420, 1, 0)")
            .bind(1, p.id)
            .run();
        x.bump_generation();
    }
    std::filesystem::copy_file(dir / "old-x.db", root + "/.barge/catalog-drive-x.db",
                               std::filesystem::copy_options::overwrite_existing);
    merge();
    EXPECT_EQ(known(me), before);
    EXPECT_EQ(known_drives(me.db(), me.find_pair("p")->id)[0].generation, 3);
}

// A file that left its link group at the source (EntryStore::leave_link_group:
// its delivered mtime forgotten) keeps that mark against another drive's
// knowledge of the same delivery, even verified later: that knowledge is the
// shared file this drive must replace. A newer delivery still wins, and an
// unmarked file still takes a later verification.
TEST(Rotation, AFileThatLeftItsLinkGroupYieldsOnlyToANewerDelivery) {
    TestDir dir;
    delivered_rows(dir, "them", {{"left", 5, false, 900}, {"stays", 5, false, 900}, {"newer", 6, false, 900}});
    delivered_rows(dir, "me", {{"left", 5, true, 100}, {"stays", 5, false, 100}, {"newer", 5, true, 100}});
    Catalog me = merged_into_me(dir);
    auto got = delivered_as(me);
    EXPECT_EQ(got["left"], std::make_tuple(true, int64_t{100}, int64_t{5})) << "the mark was undone";
    EXPECT_EQ(got["stays"], std::make_tuple(false, int64_t{900}, int64_t{5}))
        << "a later verification not taken";
    EXPECT_EQ(got["newer"], std::make_tuple(false, int64_t{900}, int64_t{6}))
        << "a newer delivery not taken";
}

// Where the order record just raised this drive's order at a path to the
// copy's, what this drive knows there is of an older delivery: the copy's
// knowledge at that order is taken, also over a file that left its link group
// (whose mark stays) and over a later verification (random_rotation_partial.sh seed 59: the late
// drive kept its older knowledge, and verify-destination reported the newer
// file there as damaged). Not where the order was not raised.
TEST(Rotation, AtAnOrderTheRecordRaisedTheCopysKnowledgeIsTaken) {
    TestDir dir;
    delivered_rows(dir, "them", {{"raised", 5, false, 50}, {"raised-left", 5, false, 50}, {"kept", 5, false, 50}});
    delivered_rows(dir, "me", {{"raised", 5, false, 100}, {"raised-left", 5, true, 100}, {"kept", 5, false, 100}});
    Catalog me = merged_into_me(dir, {"raised", "raised-left"});
    auto got = delivered_as(me);
    EXPECT_EQ(got["raised"], std::make_tuple(false, int64_t{50}, int64_t{5})) << "the copy's knowledge not taken";
    EXPECT_EQ(got["raised-left"], std::make_tuple(true, int64_t{50}, int64_t{5}))
        << "the copy's knowledge not taken over a file that left its link group, or its mark lost";
    EXPECT_EQ(got["kept"], std::make_tuple(false, int64_t{100}, int64_t{5}))
        << "taken where the order was not raised";
}

// A copy's row that knows an order at a path and not what stands there (its
// drive's pull raised it, from the order record) only raises the order: it
// does not erase what this drive knows there (rotation_faults.sh 10). And a
// row that knows what stands there at the order this drive knows without
// knowing what stands there is taken: that drive recorded the order and
// delivered there (rotation_faults.sh 14).
TEST(Rotation, AnOrderWithoutKnowledgeRaisesAndKnowledgeAtTheSameOrderIsTaken) {
    TestDir dir;
    // Rows (name, delivered order, knows what stands there).
    using Row = std::tuple<const char*, int64_t, bool>;
    auto drive = [&](const std::string& id, const std::vector<Row>& rows) {
        with_drive(dir, id, [&](Database& db, int64_t pair, int64_t content) {
            for (const auto& [name, ord, knows] : rows) {
                Statement ins = db.prepare(
                    knows ? "INSERT INTO entries(pair_id, parent, name, kind, d_kind, d_mode, d_uid, d_gid, "
                            "d_mtime_ns, d_content_id, d_ord) VALUES (?1, CAST('dir' AS BLOB), ?2, NULL, 1, 420, "
                            "0, 0, 100, ?4, ?3)"
                          : "INSERT INTO entries(pair_id, parent, name, kind, d_ord) VALUES (?1, CAST('dir' AS "
                            "BLOB), ?2, NULL, ?3)");
                ins.bind(1, pair).bind_blob(2, name).bind(3, ord);
                if (knows) {
                    ins.bind(4, content);
                }
                ins.run();
            }
        });
    };
    drive("them", {{"mine", 7, false}, {"theirs", 7, true}, {"older", 6, true}});
    drive("me", {{"mine", 5, true}, {"theirs", 7, false}, {"older", 7, false}});
    Catalog me = merged_into_me(dir);
    Statement st = me.db().prepare("SELECT name, d_kind IS NOT NULL, d_ord FROM entries ORDER BY name");
    std::map<std::string, std::pair<bool, int64_t>> got;
    while (st.step()) {
        got[st.column_blob(0)] = {st.column_int(1) != 0, st.column_int(2)};
    }
    EXPECT_EQ(got["mine"], std::make_pair(true, int64_t{7})) << "empty knowledge taken, or the order not raised";
    EXPECT_EQ(got["theirs"], std::make_pair(true, int64_t{7})) << "knowledge at the same order not taken";
    EXPECT_EQ(got["older"], std::make_pair(false, int64_t{7})) << "older knowledge taken";
}

// A directory the other drive found at the source as it knew the destination
// held it (delivered, its scan's stamp above the delivery's) raises this
// drive's order there to that scan's stamp where this drive knows the same
// state there; not where it knows another (its own newer delivery stays), not
// one whose source state differs from what that drive knew there, and not a
// file (files are ordered by the order record).
TEST(Rotation, ADirectoryFoundAsDeliveredIsKnownAtTheScansStamp) {
    TestDir dir;
    // Rows (name, kind, source mtime, delivered mtime, order, delivered order).
    using Row = std::tuple<const char*, int, int64_t, int64_t, int64_t, int64_t>;
    auto drive = [&](const std::string& id, const std::vector<Row>& rows) {
        with_drive(dir, id, [&](Database& db, int64_t pair, int64_t content) {
            Statement ins = db.prepare(
                "INSERT INTO entries(pair_id, parent, name, kind, mode, mtime_ns, content_id, d_kind, d_mode, "
                "d_uid, d_gid, d_mtime_ns, d_content_id, ord, d_ord) VALUES (?1, CAST('dir' AS BLOB), ?2, ?3, 493, "
                "?4, ?5, ?3, 493, 0, 0, ?6, ?5, ?7, ?8)");
            for (const auto& [name, kind, mtime, d_mtime, ord, d_ord] : rows) {
                ins.bind(1, pair).bind_blob(2, name).bind(3, kind).bind(4, mtime).bind(6, d_mtime).bind(7, ord)
                    .bind(8, d_ord);
                ins.bind(5, kind == 1 ? std::optional<int64_t>(content) : std::nullopt);
                ins.run();
            }
        });
    };
    drive("them", {{"found", 2, 100, 100, 9, 5},
                   {"mine newer", 2, 100, 100, 9, 5},
                   {"changed", 2, 200, 100, 9, 5},
                   {"file", 1, 100, 100, 9, 5}});
    drive("me", {{"found", 2, 100, 100, 7, 7},
                 {"mine newer", 2, 50, 50, 7, 7},
                 {"changed", 2, 100, 100, 7, 7},
                 {"file", 1, 100, 100, 7, 7}});
    Catalog me = merged_into_me(dir);
    Statement st = me.db().prepare("SELECT name, d_mtime_ns, d_ord FROM entries ORDER BY name");
    std::map<std::string, std::pair<int64_t, int64_t>> got;
    while (st.step()) {
        got[st.column_blob(0)] = {st.column_int(1), st.column_int(2)};
    }
    EXPECT_EQ(got["found"], std::make_pair(int64_t{100}, int64_t{9})) << "not raised to their scan's stamp";
    EXPECT_EQ(got["mine newer"], std::make_pair(int64_t{50}, int64_t{7}))
        << "their older knowledge taken over this drive's newer delivery";
    EXPECT_EQ(got["changed"], std::make_pair(int64_t{100}, int64_t{7})) << "another state at the source: raised";
    EXPECT_EQ(got["file"], std::make_pair(int64_t{100}, int64_t{7})) << "a file raised to their scan's stamp";
}

// Knowledge taken from a copy whose drive had read fewer rows of the order
// record than this drive is read against those rows again: the rows may say
// that something changed there since, such as this drive's own deletion of a
// name it then forgot. At the source, the mark of what was read goes down to
// the copy's, for the next unload (rotation_faults.sh 25); at the destination
// the rows are read again at once, and a raised name where nothing stands is
// forgotten (random_rotation_partial.sh seed 205). A copy whose row knows only
// an order there lowers nothing.
TEST(Rotation, KnowledgeFromACopyThatReadFewerRowsIsReadAgainstThem) {
    TestDir dir;
    std::string end = dir / "end";
    std::filesystem::create_directories(end + "/.barge");
    PairSettings s = settings();
    s.dest = end;
    std::string epoch;
    int64_t read = 0;
    // A drive NAME that recorded dir/f at order 9 (its deletion) and forgot the name.
    auto drive = [&](const std::string& name) {
        auto c = std::make_unique<Catalog>(Catalog::create(dir / (name + ".db"), 1 << 20, name));
        Pair p = c->add_pair(s, "pair-uuid");
        if (epoch.empty()) {
            DestOrder order(p);
            order.record(*c, p, [](const PathOrderSink& sink) { sink("dir", "f", 9); });
            p = *c->find_pair("p");
            epoch = *p.dest_order_epoch;
            read = p.dest_order_seq;
        }
        c->set_dest_order_read(p.id, epoch, read);
        return c;
    };
    // Their copy at ROOT: dir/f delivered at order 5, as of their mark.
    // Without `knows`, the row knows only the order 5 there, not what stands.
    auto copy = [&](const std::string& root, const std::string& id, std::optional<std::string> their_epoch,
                    int64_t their_seq, bool knows) {
        with_drive(dir, id, [&](Database& db, int64_t pair, int64_t content) {
            Statement ins = db.prepare(
                knows ? "INSERT INTO entries(pair_id, parent, name, kind, d_kind, d_mode, d_uid, d_gid, d_mtime_ns, "
                        "d_content_id, d_ord) VALUES (?1, CAST('dir' AS BLOB), CAST('f' AS BLOB), NULL, 1, 420, 0, "
                        "0, 100, ?2, 5)"
                      : "INSERT INTO entries(pair_id, parent, name, kind, d_ord) VALUES (?1, CAST('dir' AS BLOB), "
                        "CAST('f' AS BLOB), NULL, 5)");
            ins.bind(1, pair);
            if (knows) {
                ins.bind(2, content);
            }
            ins.run();
            Statement st = db.prepare("UPDATE pairs SET dest_order_epoch = ?1, dest_order_seq = ?2");
            their_epoch ? st.bind_text(1, *their_epoch) : st.bind_null(1);
            st.bind(2, their_seq).run();
        });
        std::filesystem::create_directories(root + "/.barge");
        std::filesystem::copy_file(dir / (id + ".db"), root + "/.barge/catalog-" + id + ".db");
    };
    // A drive NAME's mark once it merged, at the source, the copy of drive them-NAME.
    auto seq_after_source_merge = [&](const std::string& name, std::optional<std::string> their_epoch,
                                      int64_t their_seq, bool knows = true) {
        copy(dir / ("src-" + name), "them-" + name, std::move(their_epoch), their_seq, knows);
        std::unique_ptr<Catalog> me = drive(name);
        if (!knows) { // a row of this drive's there, at an older order: the copy's raises it
            me->db().exec("INSERT INTO entries(pair_id, parent, name, kind, d_ord) SELECT id, CAST('dir' AS "
                          "BLOB), CAST('f' AS BLOB), NULL, 1 FROM pairs");
        }
        Transaction tx(me->db());
        KnowledgeMerge k =
            merge_knowledge(*me, *me->find_pair("p"), End::source, dir / ("src-" + name), nullptr);
        tx.commit();
        EXPECT_EQ(k.entries_learned, 1) << name;
        return std::make_pair(me->find_pair("p")->dest_order_seq, k.order_reread);
    };
    drive("first"); // the record
    ASSERT_GT(read, 1);
    EXPECT_EQ(seq_after_source_merge("a", epoch, read - 1), std::make_pair(read - 1, true))
        << "the mark not lowered to the copy's";
    EXPECT_EQ(seq_after_source_merge("b", epoch, read + 5), std::make_pair(read, false)) << "the mark raised";
    EXPECT_EQ(seq_after_source_merge("c", "another-record", read + 5), std::make_pair(int64_t{0}, true))
        << "a mark of another record taken";
    EXPECT_EQ(seq_after_source_merge("d", std::nullopt, 0), std::make_pair(int64_t{0}, true))
        << "the knowledge of a drive never at the destination (from others' copies) did not lower it";
    EXPECT_EQ(seq_after_source_merge("e", epoch, read - 1, false), std::make_pair(read, false))
        << "an order without knowledge lowered it";

    copy(end, "them-x", epoch, read - 1, true);
    std::unique_ptr<Catalog> me = drive("x");
    Pair p = *me->find_pair("p");
    DestOrder order(p);
    KnowledgeMerge k = learn_at_destination(*me, p, order, nullptr);
    EXPECT_TRUE(k.order_reread);
    Statement st = me->db().prepare("SELECT d_kind IS NULL, d_ord FROM entries WHERE name = CAST('f' AS BLOB)");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_int(0), 1) << "the copy's knowledge of dir/f kept: nothing stands there";
    EXPECT_EQ(st.column_int(1), 9) << "the order record's row not read again";
}

// A directory the destination holds that another drive delivered after this
// drive's scan of the path (its delivered order above the entry's) is
// superseded whatever that scan found there: a directory, a file, or
// nothing. An unload writing into it journals it and sets that delivery's
// times back; one this drive saw as a file was passed over, and its trash of
// an old file inside left the kernel's mtime (random_rotation_partial.sh with
// three drives, seed 263; rotation_faults.sh 26). A failed set-back forgets
// the delivered mtime there whatever the kind.
TEST(Rotation, ADirectoryDeliveredLaterIsSupersededWhateverTheScanFound) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 1 << 20, "me");
    Pair p = c.add_pair(settings(), "pair-uuid");
    // Rows (name, kind, order, delivered kind, delivered mtime, delivered order).
    using Row = std::tuple<const char*, std::optional<int64_t>, int64_t, int64_t,
                           std::optional<int64_t>, int64_t>;
    Statement ins =
        c.db().prepare("INSERT INTO entries(pair_id, parent, name, kind, ord, d_kind, d_mode, "
                       "d_uid, d_gid, d_mtime_ns, d_ord) "
                       "VALUES (?1, CAST('' AS BLOB), ?2, ?3, ?4, ?5, 493, 0, 0, ?6, ?7)");
    for (const auto& [name, kind, ord, d_kind, d_mtime, d_ord] :
         {Row{"saw a dir", 2, 1, 2, 5, 2}, Row{"saw a file", 1, 1, 2, 5, 2},
          Row{"saw nothing", std::nullopt, 1, 2, 5, 2}, Row{"mine newer", 2, 3, 2, 5, 2},
          Row{"a file there", 2, 1, 1, 5, 2}, Row{"times forgotten", 1, 1, 2, std::nullopt, 2}}) {
        ins.bind(1, p.id)
            .bind_blob(2, name)
            .bind(3, kind)
            .bind(4, ord)
            .bind(5, d_kind)
            .bind(6, d_mtime)
            .bind(7, d_ord);
        ins.run();
    }
    TransitStore t(c.db());
    auto at = [&](const std::string& name) {
        auto d = t.dir_at(p.id, name);
        EXPECT_TRUE(d) << name << ": no directory entry";
        return d ? std::make_tuple(d->delivered, d->superseded) : std::make_tuple(false, false);
    };
    EXPECT_EQ(at("saw a dir"), std::make_tuple(true, true));
    EXPECT_EQ(at("saw a file"), std::make_tuple(false, true));
    EXPECT_EQ(at("saw nothing"), std::make_tuple(false, true));
    EXPECT_EQ(at("mine newer"), std::make_tuple(true, false))
        << "this drive's scan is the newer";
    EXPECT_EQ(at("a file there"), std::make_tuple(false, false))
        << "the destination holds a file";
    EXPECT_EQ(at("times forgotten"), std::make_tuple(false, false))
        << "no delivered mtime to set back";
    auto id = t.dir_at(p.id, "saw a file");
    ASSERT_TRUE(id);
    EXPECT_FALSE(t.forget_dir_times(id->id))
        << "only a directory at this drive's scan is undelivered";
    t.forget_set_back_times(id->id);
    EXPECT_EQ(at("saw a file"), std::make_tuple(false, false))
        << "its mtime the kernel's now";
}

// A drive's misses of a file (changed while read: TransitStore::note_miss) end
// when the merge learns a version of it at the destination this drive did not
// know (other content, or another mtime): the file held still for the drive
// that carried it. Knowledge of the same version, verified later, ends
// nothing; nor does a file that left its link group (a NULL d_mtime_ns), on
// either side: that mark is not a version, and it is taken as it is. A
// failure stays.
TEST(Rotation, MissesEndOnlyAtAVersionThisDriveDidNotKnow) {
    TestDir dir;
    // Rows (name, delivered order, delivered mtime, other content, verified at).
    using Row = std::tuple<const char*, int64_t, std::optional<int64_t>, bool, int64_t>;
    auto drive = [&](const std::string& id, const std::vector<Row>& rows) {
        with_drive(dir, id, [&](Database& db, int64_t pair, int64_t content) {
            int64_t other = upsert_content(db, content_of(2, 2), 20);
            Statement ins = db.prepare(
                "INSERT INTO entries(pair_id, parent, name, kind, size, d_kind, d_mode, d_uid, "
                "d_gid, d_mtime_ns, d_content_id, d_ord, d_verified_ns) VALUES (?1, CAST('dir' AS "
                "BLOB), ?2, 1, 10, 1, 420, 0, 0, ?3, ?4, ?5, ?6)");
            for (const auto& [name, ord, mtime, changed, verified] : rows) {
                int64_t c = changed ? other : content;
                ins.bind(1, pair).bind_blob(2, name).bind(3, mtime).bind(4, c);
                ins.bind(5, ord).bind(6, verified);
                ins.run();
            }
        });
    };
    const std::optional<int64_t> at100 = 100, none = std::nullopt;
    drive("them", {{"verified-later", 5, at100, false, 900},
                   {"left-there", 5, none, false, 900},
                   {"left-here", 6, at100, false, 900},
                   {"new-content", 6, at100, true, 900},
                   {"new-mtime", 6, 200, false, 900},
                   {"failed", 6, at100, true, 900},
                   {"dir", 6, none, false, 900}});
    drive("me", {{"verified-later", 5, at100, false, 100},
                 {"left-there", 5, at100, false, 100},
                 {"left-here", 5, none, false, 100},
                 {"new-content", 5, at100, false, 100},
                 {"new-mtime", 5, at100, false, 100},
                 {"failed", 5, at100, false, 100},
                 {"dir", 5, at100, false, 100}});
    for (const char* id : {"them", "me"}) {
        // A directory whose times are to be set again (forget_dir_times) there.
        Catalog::open(dir / (std::string(id) + ".db"))
            .db()
            .exec(
                "UPDATE entries SET kind = 2, d_kind = 2, d_content_id = NULL WHERE name = 'dir'");
    }
    {
        Catalog me = Catalog::open(dir / "me.db");
        TransitStore transit(me.db());
        Statement ids = me.db().prepare("SELECT id, name FROM entries");
        while (ids.step()) {
            if (ids.column_blob(1) == "failed") {
                transit.set_failure(ids.column_int(0), "read: Input/output error", 50);
            } else {
                transit.note_miss(ids.column_int(0), 50);
                transit.note_miss(ids.column_int(0), 60);
            }
        }
    }
    Catalog me = merged_into_me(dir);
    Statement st =
        me.db().prepare("SELECT name, d_verified_ns, fail_ns, fail_count, fail_reason IS NOT "
                        "NULL, d_mtime_ns FROM entries");
    std::map<std::string, std::tuple<int64_t, int64_t, int64_t, bool>> got;
    std::map<std::string, std::optional<int64_t>> mtime;
    while (st.step()) {
        got[st.column_blob(0)] = {st.column_int(1), st.is_null(2) ? 0 : st.column_int(2),
                                  st.column_int(3), st.column_int(4) != 0};
        mtime[st.column_blob(0)] = st.column_optional_int(5);
    }
    // A NULL d_mtime_ns is taken as NULL, not as 0 (1970).
    EXPECT_EQ(mtime["left-there"], none) << "their link-group mark not taken";
    EXPECT_EQ(mtime["dir"], none) << "their directory's times to set again not taken";
    EXPECT_EQ(mtime["left-here"], at100) << "a newer delivery did not replace the mark";
    using T = std::tuple<int64_t, int64_t, int64_t, bool>;
    EXPECT_EQ(got["verified-later"], (T{900, 50, 2, false}))
        << "a later verification ended the misses";
    EXPECT_EQ(got["left-there"], (T{900, 50, 2, false})) << "a link-group mark taken for a version";
    EXPECT_EQ(std::get<1>(got["left-here"]), 50) << "a link-group mark taken for a version";
    EXPECT_EQ(got["new-content"], (T{900, 0, 0, false})) << "new content did not end the misses";
    EXPECT_EQ(got["new-mtime"], (T{900, 0, 0, false})) << "a new mtime did not end the misses";
    EXPECT_EQ(got["failed"], (T{900, 50, 1, true})) << "a failure did not stay";
}

// The pair's options are taken from the copy that set them last, whatever the
// order the copies are read in (by drive id: here the newest first, and an
// older copy read after it, still newer than this drive's options, undid it),
// and never from a stamp beyond any clock (a damaged or forged copy).
TEST(Rotation, TheOptionsSetLastWinWhateverTheOrderOfTheCopies) {
    TestDir dir;
    std::string root = dir / "end";
    std::filesystem::create_directories(root + "/.barge");
    // (drive id, options stamp, retention days)
    using Copy = std::tuple<const char*, int64_t, int>;
    for (const auto& [id, stamp, days] :
         {Copy{"a-newest", 300, 30}, Copy{"b-older", 200, 20},
          Copy{"c-forged", order_stamp_learn_bound + 1, 1}, Copy{"me", 100, 90}}) {
        with_drive(dir, id, [&](Database& db, int64_t pair, int64_t) {
            db.exec(
                fmt::format("UPDATE pairs SET options_ns = {}, retention_days = {} WHERE id = {}",
                            stamp, days, pair));
        });
        if (std::string(id) != "me") {
            std::filesystem::copy_file(dir / (std::string(id) + ".db"),
                                       root + "/.barge/catalog-" + id + ".db");
        }
    }
    Catalog me = Catalog::open(dir / "me.db");
    {
        Pair p = *me.find_pair("p");
        Transaction tx(me.db());
        merge_knowledge(me, p, End::dest, root, nullptr);
        tx.commit();
    }
    Pair p = *me.find_pair("p");
    EXPECT_EQ(p.retention_days, 30);
    EXPECT_EQ(p.options_ns, 300);
}
