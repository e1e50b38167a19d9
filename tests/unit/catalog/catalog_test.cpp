#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/contents.hpp"
#include "barge/catalog/database.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/catalog/schema.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/util/error.hpp"

#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <vector>

using namespace barge;

// Pair `name` on catalog c: "p" is /s -> /d, another /s-NAME -> /d-NAME.
Pair add_p(Catalog& c, const std::string& name = "p") {
    std::string suffix = name == "p" ? "" : "-" + name;
    return c.add_pair({.name = name, .source = "/s" + suffix, .dest = "/d" + suffix}, "u" + suffix);
}

TEST(Catalog, CreateThenOpenKeepsSettings) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 1 << 20, "drive-1");
    }
    Catalog c = Catalog::open(path);
    EXPECT_EQ(c.piece_size(), 1u << 20);
    EXPECT_EQ(c.drive_id(), "drive-1");
    EXPECT_EQ(c.db().query_int("PRAGMA user_version"), schema_version);
    EXPECT_EQ(c.bump_generation(), 1);
    EXPECT_EQ(c.bump_generation(), 2);
}

TEST(Catalog, AReserveAboveTheBoundReadsAsTheBound) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    add_p(c);
    // What pair add --reserve 9000000T stored before the bound (SizeSpec::to_string).
    c.db().exec("UPDATE pairs SET reserve = '9895604649984000000'");
    EXPECT_EQ(c.find_pair("p")->reserve.bytes, max_size_spec);
    c.db().exec("UPDATE pairs SET reserve = '12%'");
    EXPECT_DOUBLE_EQ(c.find_pair("p")->reserve.percent, 12);
    c.db().exec("UPDATE pairs SET reserve = 'lots'");
    EXPECT_THROW(c.find_pair("p"), Refusal);
}

TEST(Catalog, CreateRefusesExistingFile) {
    TestDir dir;
    std::string path = dir / "barge.db";
    { Catalog c = Catalog::create(path, 4096, "d"); }
    EXPECT_THROW(Catalog::create(path, 4096, "d"), Refusal);
}

TEST(Catalog, NoJournalLeftBehindAfterWrites) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 4096, "d");
        c.add_pair({.name = "p", .source = "/src", .dest = "/dst"}, "u");
        EXPECT_EQ(c.db().prepare("PRAGMA journal_mode").step(), true);
    }
    // A drive unplugged between runs must carry one self-contained file.
    for (const char* suffix : {"-journal", "-wal", "-shm"}) {
        EXPECT_FALSE(std::filesystem::exists(path + suffix)) << suffix;
    }
}

TEST(Catalog, RefusesNewerSchemaWithExitTwo) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 4096, "d");
        c.db().exec("PRAGMA user_version = 999");
    }
    try {
        Catalog::open(path);
        FAIL() << "a newer catalog was accepted";
    } catch (const CatalogError& e) {
        EXPECT_EQ(e.code(), ExitCode::refused);
        EXPECT_NE(std::string(e.what()).find("newer barge"), std::string::npos);
    }
}

TEST(Catalog, RefusesForeignFile) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Database db(path, Database::Create::yes);
        db.exec("CREATE TABLE t(x)");
    }
    EXPECT_THROW(Catalog::open(path), CatalogError);
}

TEST(Catalog, RefusesPlantedTrigger) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 4096, "d");
        c.db().exec("CREATE TRIGGER evil AFTER INSERT ON runs BEGIN DELETE FROM pairs; END");
    }
    try {
        Catalog::open(path);
        FAIL() << "a tampered catalog was accepted";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("evil"), std::string::npos);
    }
}

TEST(Catalog, RefusesOneOfItsTriggersRewritten) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 4096, "d");
        c.db().exec("DROP TRIGGER entries_undelivered_insert");
        c.db().exec("CREATE TRIGGER entries_undelivered_insert AFTER INSERT ON entries BEGIN "
                    "DELETE FROM pairs; END");
    }
    try {
        Catalog::open(path);
        FAIL() << "a catalog with a rewritten trigger was accepted";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("did not write so"), std::string::npos) << e.what();
    }
}

// The schema objects built into this program by barge-schema-gen are those the
// migrations make now: a stale build would refuse every catalog, or accept a
// tampered one.
TEST(Schema, BuiltInObjectsAreWhatTheMigrationsMake) {
    size_t count = 0;
    ASSERT_NE(embedded_schema_objects(count), nullptr) << "barge_unit was linked without them";
    SchemaObjects migrated = schema_objects_migrated();
    EXPECT_EQ(count, migrated.size());
    EXPECT_EQ(schema_objects_expected(), migrated);
    EXPECT_TRUE(migrated.contains({"trigger", "entries_undelivered_insert"}));
    EXPECT_FALSE(migrated.at({"trigger", "entries_undelivered_insert"}).empty());
}

TEST(Catalog, RefusesCorruptFile) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        Catalog c = Catalog::create(path, 4096, "d");
    }
    // Overwrite the second page (the first table's b-tree) with garbage.
    FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 4096 + 8, SEEK_SET);
    std::string junk(512, '\x5a');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
    // Found as soon as the page is read: here by the first query of the meta table.
    EXPECT_THROW(Catalog::open(path).drive_id(), CatalogError);
}

// Damage deep in the file: a page in the middle of the entries table's b-tree (or
// of its unique index), not the schema page.
void damage_middle_page(const std::string& path) {
    int64_t page = 0;
    {
        Database db(path, Database::Create::no);
        Statement st = db.prepare(
            "SELECT pageno FROM dbstat WHERE name IN ('entries', 'sqlite_autoindex_entries_1') "
            "ORDER BY pageno");
        std::vector<int64_t> pages;
        while (st.step()) {
            pages.push_back(st.column_int(0));
        }
        ASSERT_GT(pages.size(), 4u);
        page = pages[pages.size() / 2];
    }
    FILE* f = std::fopen(path.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, (page - 1) * 4096 + 100, SEEK_SET);
    std::string junk(2000, '\xa5');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
}

std::string catalog_with_entries(TestDir& dir) {
    std::string path = dir / "barge.db";
    Catalog c = Catalog::create(path, 4096, "d");
    Pair p = add_p(c);
    EntryStore store(c.db(), 1);
    FileStat st;
    Transaction tx(c.db());
    for (int i = 0; i < 3000; ++i) {
        store.insert(p.id, "dir", "file-" + std::to_string(i), st, 1);
    }
    tx.commit();
    return path;
}

TEST(Catalog, EveryPageReadIsCheckedButOnlyTheFullCheckReadsThemAll) {
    TestDir dir;
    std::string path = catalog_with_entries(dir);
    damage_middle_page(path);
    // Opening reads the header and the schema: the damaged page is not among them.
    Catalog c = Catalog::open(path);
    EXPECT_EQ(c.drive_id(), "d");
    // Through the table and through its index: one of them holds the damaged page.
    std::string failure;
    for (const char* sql : {"SELECT total(mtime_ns + size) FROM entries",
                            // Not a bare count(*): SQLite counts that with the
                            // smallest index, whatever INDEXED BY says.
                            "SELECT total(length(name)) FROM entries INDEXED BY "
                            "sqlite_autoindex_entries_1 WHERE pair_id > 0"}) {
        try {
            c.db().query_int(sql);
        } catch (const CatalogError& e) {
            failure = e.what();
        }
    }
    EXPECT_NE(failure.find("checksum"), std::string::npos) << "a damaged page was read without "
                                                              "complaint: '" << failure << "'";
    try {
        Catalog::open(path, Catalog::Check::full);
        FAIL() << "the full check missed a damaged page";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
    }
}

TEST(Catalog, CatalogWithoutChecksumsIsConvertedAndKeepsItsRows) {
    TestDir dir;
    std::string path = dir / "barge.db";
    {
        // What barge 0.1 wrote: pages without reserved bytes (here with today's schema).
        Database db(path, Database::Create::yes);
        migrate(db, migrations(), [](int) {});
        db.exec("INSERT INTO meta VALUES ('drive_id', 'd'), ('piece_size', '4096'), "
                "('generation', '0'); INSERT INTO pairs(id, uuid, name, source, dest, reserve, "
                "on_delete, retention_days, mass_change_limit, source_marker, created_ns) VALUES "
                "(1, 'u', 'p', CAST('/s' AS BLOB), CAST('/d' AS BLOB), '0', 'keep', 1, 25, 1, 0)");
        EntryStore store(db, 1);
        Transaction tx(db);
        for (int i = 0; i < 3000; ++i) {
            store.insert(1, "dir", "file-" + std::to_string(i), FileStat{}, 1);
        }
        tx.commit();
    }
    std::ifstream in(path, std::ios::binary);
    std::string header(100, '\0');
    in.read(header.data(), 100);
    ASSERT_EQ(static_cast<int>(header[20]), 0) << "the test needs a catalog without checksums";
    EXPECT_TRUE(Catalog::needs_upgrade(path));
    {
        Catalog c = Catalog::open(path);
        EXPECT_EQ(c.db().query_int("SELECT count(*) FROM entries"), 3000);
        EXPECT_EQ(c.drive_id(), "d");
    }
    EXPECT_FALSE(Catalog::needs_upgrade(path));
    damage_middle_page(path);
    EXPECT_THROW(Catalog::open(path, Catalog::Check::full), CatalogError)
        << "the converted catalog's pages are not checksummed";
}

TEST(Migration, StepsRunInOrderAfterABackup) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    std::vector<Migration> v1 = {{1, "CREATE TABLE a(x INTEGER)"}};
    int backups = 0;
    migrate(db, v1, [&](int) { ++backups; });
    EXPECT_EQ(backups, 0); // a new file needs no backup
    db.exec("INSERT INTO a VALUES (7)");
    std::vector<Migration> v3 = {{1, "CREATE TABLE a(x INTEGER)"},
                                 {2, "ALTER TABLE a ADD COLUMN y INTEGER DEFAULT 2"},
                                 {3, "UPDATE a SET y = y + x"}};
    int from = 0;
    migrate(db, v3, [&](int f) {
        ++backups;
        from = f;
    });
    EXPECT_EQ(backups, 1);
    EXPECT_EQ(from, 1);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), 3);
    EXPECT_EQ(db.query_int("SELECT y FROM a"), 9);
    // Running again is a no-op.
    migrate(db, v3, [&](int) { ++backups; });
    EXPECT_EQ(backups, 1);
}

TEST(Migration, FailedStepRollsBackAndKeepsVersion) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    migrate(db, {{1, "CREATE TABLE a(x)"}}, [](int) {});
    std::vector<Migration> bad = {{1, "CREATE TABLE a(x)"}, {2, "CREATE TABLE b(y); SELECT nope FROM nowhere"}};
    EXPECT_THROW(migrate(db, bad, [](int) {}), CatalogError);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), 1);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM sqlite_schema WHERE name = 'b'"), 0);
}

std::string query_text(Database& db, const std::string& sql) {
    Statement st = db.prepare(sql);
    return st.step() ? st.column_text(0) : std::string();
}

// Pair 1, "p" (/s -> /d), written as SQL: in a catalog at an older version,
// which the Catalog API (current schema) does not write.
void insert_pair_p(Database& db) {
    db.exec("INSERT INTO pairs(id, uuid, name, source, dest, reserve, on_delete, retention_days, "
            "mass_change_limit, source_marker, created_ns) VALUES (1, 'u', 'p', x'2f73', x'2f64', "
            "'0', 'keep', 0, 100, 1, 0)");
}

// The first steps of the real schema: a catalog as barge wrote it before
// version last + 1.
std::vector<Migration> up_to_version(int last) {
    std::vector<Migration> steps;
    for (const auto& m : migrations()) {
        if (m.to <= last) {
            steps.push_back(m);
        }
    }
    return steps;
}

TEST(Migration, VersionSixRebuildsTheHashTablesAndKeepsEveryReference) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(5), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 5);
    insert_pair_p(db);
    db.exec("INSERT INTO contents(id, hash, size, pieces) VALUES (10, randomblob(64), 5, 1), "
            "(11, randomblob(64), 9, 2)");
    db.exec("INSERT INTO pieces(id, hash, size, on_cargo, loaded_ns, verified_ns) VALUES "
            "(20, randomblob(64), 5, 1, 100, NULL), (21, randomblob(64), 4, 1, 101, 201), "
            "(22, randomblob(64), 5, 0, NULL, 202)");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (10, 0, 20, 0), "
            "(11, 0, 21, 0), (11, 1, 22, 4)");
    db.exec("INSERT INTO entries(id, pair_id, parent, name, kind, size, content_id) VALUES "
            "(1, 1, x'', x'61', 1, 5, 10)");
    // Every column of every row of the two rebuilt tables.
    const std::string rows =
        "SELECT group_concat(r, ',') FROM (SELECT 'c:' || id || ':' || hex(hash) || ':' || size || "
        "':' || coalesce(pieces, 'null') AS r FROM contents UNION ALL SELECT 'p:' || id || ':' || "
        "hex(hash) || ':' || size || ':' || on_cargo || ':' || coalesce(loaded_ns, 'null') || ':' || "
        "coalesce(verified_ns, 'null') FROM pieces ORDER BY 1)";
    std::string before = query_text(db, rows);
    int backups = 0;
    migrate(db, up_to_version(6), [&](int) { ++backups; });
    EXPECT_EQ(backups, 1);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), 6);
    EXPECT_EQ(db.query_int("PRAGMA foreign_keys"), 1) << "enforcement is back on after the steps";
    // A DROP with foreign keys on would have cascaded into content_pieces.
    EXPECT_EQ(db.query_int("SELECT count(*) FROM content_pieces"), 3);
    EXPECT_EQ(query_text(db, rows), before);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM sqlite_schema WHERE name LIKE "
                           "'sqlite_autoindex_contents%' OR name LIKE 'sqlite_autoindex_pieces%'"),
              0)
        << "no second copy of each hash";
    EXPECT_EQ(db.query_int("SELECT count(*) FROM pieces INDEXED BY pieces_cargo WHERE on_cargo = 1"), 2);
    EXPECT_EQ(query_text(db, "SELECT pieces || ' ' || bytes FROM cargo_total"), "2 9")
        << "the kept count of the cargo starts from the migrated pieces";
    // The references still name the rebuilt tables: a piece a content uses cannot go.
    EXPECT_THROW(db.exec("DELETE FROM pieces WHERE id = 20"), CatalogError);
}

TEST(Migration, VersionSixRefusesACatalogWhoseReferencesAreBroken) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    migrate(db, up_to_version(5), [](int) {});
    db.exec("PRAGMA foreign_keys = OFF");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (99, 0, 98, 0)");
    db.exec("PRAGMA foreign_keys = ON");
    try {
        migrate(db, up_to_version(6), [](int) {});
        FAIL() << "a catalog with a dangling reference was migrated";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("content_pieces"), std::string::npos) << e.what();
    }
    EXPECT_EQ(db.query_int("PRAGMA user_version"), 5) << "the step was rolled back";
    EXPECT_EQ(db.query_int("PRAGMA foreign_keys"), 1);
}

TEST(Migration, VersionSevenStartsTheKeptCountsFromTheCatalog) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(6), [](int) {});
    db.exec("INSERT INTO pairs(id, uuid, name, source, dest, reserve, on_delete, retention_days, "
            "mass_change_limit, source_marker, created_ns) VALUES (1, 'u', 'p', x'2f73', x'2f64', "
            "'0', 'keep', 0, 100, 1, 0), (2, 'v', 'q', x'2f74', x'2f65', '0', 'keep', 0, 100, 1, 0)");
    // Content 10: both pieces on the cargo; 11: one of two; 12: empty; 13: pieces
    // not known yet; 14: one piece twice (at two indexes), on the cargo.
    db.exec("INSERT INTO contents(id, hash, size, pieces) VALUES (10, randomblob(64), 9, 2), "
            "(11, randomblob(64), 9, 2), (12, randomblob(64), 0, 0), (13, randomblob(64), 7, NULL), "
            "(14, randomblob(64), 8, 2)");
    db.exec("INSERT INTO pieces(id, hash, size, on_cargo) VALUES (20, randomblob(64), 5, 1), "
            "(21, randomblob(64), 4, 1), (22, randomblob(64), 5, 1), (23, randomblob(64), 4, 0), "
            "(24, randomblob(64), 4, 1)");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (10, 0, 20, 0), "
            "(10, 1, 21, 5), (11, 0, 22, 0), (11, 1, 23, 5), (14, 0, 24, 0), (14, 1, 24, 4)");
    // Pair 1: on the cargo (10, 12, 14, a symlink), waiting (11, 13), failed,
    // not hashed, delivered. Pair 2: content 10 waiting nowhere: on the cargo.
    db.exec("INSERT INTO entries(pair_id, parent, name, kind, size, content_id, target, fail_reason, "
            "d_kind, d_mode, d_mtime_ns, d_content_id, d_uid, d_gid) VALUES "
            "(1, x'', x'61', 1, 9, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'62', 1, 0, 12, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'63', 1, 8, 14, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'64', 3, 0, NULL, x'74', NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'65', 1, 9, 11, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'66', 1, 7, 13, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'67', 1, 9, 11, NULL, 'no room', NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'68', 1, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(1, x'', x'69', 1, 9, 10, NULL, NULL, 1, 0, 0, 10, 0, 0), "
            "(1, x'', x'6a', 2, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "(2, x'', x'61', 1, 9, 10, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
    migrate(db, up_to_version(7), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 7);
    EXPECT_EQ(query_text(db, "SELECT group_concat(id || ':' || here, ' ') FROM (SELECT id, here "
                             "FROM contents ORDER BY id)"),
              "10:2 11:1 12:0 13:0 14:2");
    EXPECT_EQ(query_text(db, "SELECT group_concat(r, ' ') FROM (SELECT pair_id || '/' || state || ':' "
                             "|| files || ':' || bytes AS r FROM pair_undelivered ORDER BY pair_id, "
                             "state)"),
              "1/0:2:16 1/1:4:17 1/2:1:9 1/3:1:3 2/1:1:9");
    // The triggers keep them from here: the missing piece of 11 arrives.
    db.exec("UPDATE pieces SET on_cargo = 1 WHERE id = 23");
    EXPECT_EQ(query_text(db, "SELECT files || ':' || bytes FROM pair_undelivered WHERE pair_id = 1 "
                             "AND state = 1"),
              "5:26");
    EXPECT_EQ(db.query_int("PRAGMA foreign_keys"), 1);
}

// Rows as "id id ..." in id order.
std::string ids(Database& db, const std::string& table) {
    return query_text(db, fmt::format("SELECT group_concat(id, ' ') FROM (SELECT id FROM {} ORDER BY id)", table));
}

TEST(Migration, VersionEightForgetsWhatNothingNeeds) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(7), [](int) {});
    insert_pair_p(db);
    // 10 a file's content; 11 delivered only (the old version of a file, or a file
    // gone whose rename may come); 12 nobody's, its piece on the cargo; 13
    // nobody's, its piece off it; 14 staged only; 15 a file's, one piece, off the
    // cargo; 16 a file's, two pieces off the cargo; 17 a file's, one piece that is
    // also piece 1 of 18, a file's; 19 nobody's, two pieces (one on the cargo).
    db.exec("INSERT INTO contents(id, hash, size, pieces) VALUES (10, randomblob(64), 5, 1), "
            "(11, randomblob(64), 5, 1), (12, randomblob(64), 5, 1), (13, randomblob(64), 5, 1), "
            "(14, randomblob(64), 9, 2), (15, randomblob(64), 5, 1), (16, randomblob(64), 9, 2), "
            "(17, randomblob(64), 4, 1), (18, randomblob(64), 9, 2), (19, randomblob(64), 9, 2)");
    // 20 of 10 (on), 21 of 11 (off), 22 of 12 (on), 23 of 13 (off), 24/25 of 14 (off),
    // 26 of 15 (off), 27/28 of 16 (off), 29 of 17 and of 18 (off), 30 of 18 (off),
    // 31/32 of 19 (on, off), 33 of nothing (off), 34 of nothing (on).
    db.exec("INSERT INTO pieces(id, hash, size, on_cargo) VALUES (20, randomblob(64), 5, 1), "
            "(21, randomblob(64), 5, 0), (22, randomblob(64), 5, 1), (23, randomblob(64), 5, 0), "
            "(24, randomblob(64), 5, 0), (25, randomblob(64), 4, 0), (26, randomblob(64), 5, 0), "
            "(27, randomblob(64), 5, 0), (28, randomblob(64), 4, 0), (29, randomblob(64), 4, 0), "
            "(30, randomblob(64), 5, 0), (31, randomblob(64), 5, 1), (32, randomblob(64), 4, 0), "
            "(33, randomblob(64), 3, 0), (34, randomblob(64), 3, 1)");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (10, 0, 20, 0), "
            "(11, 0, 21, 0), (12, 0, 22, 0), (13, 0, 23, 0), (14, 0, 24, 0), (14, 1, 25, 5), "
            "(15, 0, 26, 0), (16, 0, 27, 0), (16, 1, 28, 5), (17, 0, 29, 0), (18, 0, 30, 0), "
            "(18, 1, 29, 5), (19, 0, 31, 0), (19, 1, 32, 5)");
    db.exec("INSERT INTO entries(pair_id, parent, name, kind, size, content_id, d_kind, d_content_id) VALUES "
            "(1, x'', x'61', 1, 5, 10, 1, 11), (1, x'', x'62', NULL, 0, NULL, 1, 11), "
            "(1, x'', x'63', 1, 5, 15, NULL, NULL), (1, x'', x'64', 1, 9, 16, NULL, NULL), "
            "(1, x'', x'65', 1, 4, 17, NULL, NULL), (1, x'', x'66', 1, 9, 18, NULL, NULL)");
    db.exec("INSERT INTO staged(pair_id, content_id, idx) VALUES (1, 14, 0)");
    migrate(db, up_to_version(8), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 8);
    EXPECT_EQ(ids(db, "contents"), "10 11 14 15 16 17 18") << "12, 13 and 19: nobody's";
    // 21 and 26: one-piece contents' pieces off the cargo (the content keeps the
    // hash); 23, 32, 33: nobody's, off the cargo. 22, 31 and 34 wait on the cargo
    // to be reclaimed.
    EXPECT_EQ(ids(db, "pieces"), "20 22 24 25 27 28 29 30 31 34");
    EXPECT_EQ(query_text(db, "SELECT group_concat(content_id || '/' || idx || ':' || piece_id, ' ') "
                             "FROM (SELECT * FROM content_pieces ORDER BY content_id, idx)"),
              "10/0:20 14/0:24 14/1:25 16/0:27 16/1:28 17/0:29 18/0:30 18/1:29");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM contents_loose") + db.query_int("SELECT count(*) FROM pieces_loose"), 0);
    EXPECT_EQ(db.query_int("PRAGMA foreign_keys"), 1);
    EXPECT_FALSE(db.prepare("PRAGMA foreign_key_check").step());
    // The index of delivered contents holds only the delivered rows.
    EXPECT_EQ(db.query_int("SELECT count(*) FROM entries INDEXED BY entries_d_content WHERE d_content_id IS NOT NULL"), 2);
}

TEST(Migration, VersionNineDropsWhatNothingReadsAndKeepsEveryPiece) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(8), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 8);
    insert_pair_p(db);
    db.exec("INSERT INTO contents(id, hash, size, pieces) VALUES (10, randomblob(64), 5, 1), "
            "(11, randomblob(64), 9, 2)");
    db.exec("INSERT INTO pieces(id, hash, size, on_cargo, loaded_ns, verified_ns) VALUES "
            "(20, randomblob(64), 5, 1, 100, NULL), (21, randomblob(64), 4, 1, 101, 201), "
            "(22, randomblob(64), 5, 1, 102, 202)");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (10, 0, 20, 0), "
            "(11, 0, 21, 0), (11, 1, 22, 4)");
    // Delivered files (two holding content 10) and a symlink, for the plan checked below.
    db.exec("INSERT INTO entries(id, pair_id, parent, name, kind, size, content_id, d_kind, "
            "d_content_id, d_verified_ns) VALUES (1, 1, x'', x'61', 1, 5, 10, 1, 10, 300), "
            "(2, 1, x'', x'62', 1, 9, 11, 1, 11, NULL), (3, 1, x'', x'63', 1, 5, 10, 1, 10, 100), "
            "(4, 1, x'', x'64', 1, 5, 10, 1, 10, 300), (5, 1, x'', x'65', 3, 0, NULL, 3, NULL, NULL)");
    const std::string pieces = "SELECT group_concat(r, ',') FROM (SELECT id || ':' || hex(hash) || ':' || "
                               "size || ':' || on_cargo AS r FROM pieces ORDER BY id)";
    std::string before = query_text(db, pieces);
    std::string cargo = query_text(db, "SELECT pieces || ' ' || bytes FROM cargo_total");
    std::string here = query_text(db, "SELECT group_concat(id || ':' || here, ' ') FROM contents");
    int backups = 0;
    migrate(db, migrations(), [&](int) { ++backups; });
    EXPECT_EQ(backups, 1);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), schema_version);
    EXPECT_EQ(query_text(db, pieces), before) << "every piece keeps its hash, size and place";
    EXPECT_EQ(query_text(db, "SELECT pieces || ' ' || bytes FROM cargo_total"), cargo);
    EXPECT_EQ(query_text(db, "SELECT group_concat(id || ':' || here, ' ') FROM contents"), here);
    EXPECT_EQ(cargo, "3 14");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM pragma_table_info('pieces') WHERE name IN "
                           "('loaded_ns', 'verified_ns')"),
              0);
    EXPECT_EQ(db.query_int("PRAGMA foreign_keys"), 1);
    EXPECT_FALSE(db.prepare("PRAGMA foreign_key_check").step());
    // A content's holders at the destination are found through entries_d_content,
    // not by a pass over the pair's delivered files (held_at_dest's statement).
    Statement plan = db.prepare("EXPLAIN QUERY PLAN SELECT x.id FROM entries e JOIN entries x ON "
                                "x.d_content_id = 10 WHERE e.id = 1 AND x.pair_id = e.pair_id AND "
                                "x.d_kind = 1 AND x.d_damaged = 0 LIMIT 1");
    std::string steps;
    while (plan.step()) {
        steps += plan.column_text(3) + "; ";
    }
    EXPECT_NE(steps.find("entries_d_content"), std::string::npos) << steps;
}

// A digest told apart by its first byte.
Digest digest_of(uint8_t n) {
    Digest d{};
    d[0] = n;
    return d;
}

// The journal of a directory move keeps any bytes of its paths (a newline, a
// root parent), one per pair; a malformed one is an error, never a wrong move;
// removing the pair removes its journal.
TEST(Transit, DirMoveJournalKeepsAnyPathAndIsOnePerPair) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Pair p = add_p(c);
    TransitStore t(c.db());
    EXPECT_FALSE(t.dir_move(p.id));
    t.record_dir_move(p.id, {42, {"", "old\nname"}, {"a/b\xff", "new"}});
    auto m = t.dir_move(p.id);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->from_id, 42);
    EXPECT_EQ(m->from.parent, "");
    EXPECT_EQ(m->from.name, "old\nname");
    EXPECT_EQ(m->to.parent, "a/b\xff");
    EXPECT_EQ(m->to.name, "new");
    t.record_dir_move(p.id, {7, {"x", "y"}, {"", "z"}});
    ASSERT_TRUE(t.dir_move(p.id));
    EXPECT_EQ(t.dir_move(p.id)->from_id, 7) << "one journal per pair: the newest replaces it";
    EXPECT_EQ(t.dir_move(p.id)->to.rel(), "z");
    EXPECT_FALSE(t.dir_move(p.id + 1)) << "another pair's is its own";
    c.db().exec(fmt::format("UPDATE meta SET value = '7\n\nzz\n79\n7a\n' WHERE key = 'dir_move:{}'", p.id));
    EXPECT_THROW(t.dir_move(p.id), CatalogError);
    for (const char* bad : {"x\n\n\n79\n7a\n", "7x\n\n\n79\n7a\n", "7\n\n79\n7a\n"}) {
        c.db().exec(fmt::format("UPDATE meta SET value = '{}' WHERE key = 'dir_move:{}'", bad, p.id));
        EXPECT_THROW(t.dir_move(p.id), CatalogError) << bad;
    }
    t.drop_dir_move(p.id);
    EXPECT_FALSE(t.dir_move(p.id));
    t.record_dir_move(p.id, {7, {"x", "y"}, {"", "z"}});
    c.remove_pair(p.id);
    EXPECT_FALSE(t.dir_move(p.id)) << "removed with its pair";
}

TEST(Transit, DirTimesJournalIsOnePerPairAndRefusesGarbage) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Pair p = add_p(c);
    TransitStore t(c.db());
    EXPECT_TRUE(t.dir_times(p.id).empty());
    t.record_dir_times(p.id, {3, 17, 9000000000});
    EXPECT_EQ(t.dir_times(p.id), (std::vector<int64_t>{3, 17, 9000000000}));
    t.record_dir_times(p.id, {5});
    EXPECT_EQ(t.dir_times(p.id), std::vector<int64_t>{5}) << "one journal per pair: the newest replaces it";
    EXPECT_TRUE(t.dir_times(p.id + 1).empty()) << "another pair's is its own";
    for (const char* bad : {"x", "5 x", "5,6", "5  6", " 5", "99999999999999999999"}) {
        c.db().exec(fmt::format("UPDATE meta SET value = '{}' WHERE key = 'dir_times:{}'", bad, p.id));
        EXPECT_THROW(t.dir_times(p.id), CatalogError) << bad;
    }
    t.drop_dir_times(p.id);
    EXPECT_TRUE(t.dir_times(p.id).empty());
    t.record_dir_times(p.id, {5});
    c.remove_pair(p.id);
    EXPECT_TRUE(t.dir_times(p.id).empty()) << "removed with its pair";
}

TEST(Contents, EachRunForgetsWhatItsWritesLeftUnneeded) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    auto digest = digest_of;
    int64_t a = upsert_content(db, digest(1), 5, 1);
    int64_t b = upsert_content(db, digest(2), 6, 1);
    int64_t cc = upsert_content(db, digest(3), 7, 1);
    int64_t never = upsert_content(db, digest(4), 8, 1); // written, never anyone's
    TransitStore t(db);
    int64_t pa = t.record_piece(digest(1), 5, a, 0, 0);
    db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, size, content_id) VALUES "
                        "({}, x'', x'66', 1, 5, {})", p.id, a));
    int64_t e = db.last_insert_rowid();
    auto forget = [&](Forget scope = Forget::noted) {
        Forgotten f = forget_unneeded(db, scope);
        return fmt::format("{}/{}", f.contents, f.pieces);
    };
    EXPECT_EQ(forget(), "0/0") << "nothing loosened yet";
    // Delivered, then changed at the source: the delivered version is still held.
    db.exec(fmt::format("UPDATE entries SET d_kind = 1, d_content_id = {} WHERE id = {}", a, e));
    db.exec(fmt::format("UPDATE entries SET content_id = {} WHERE id = {}", b, e));
    EXPECT_EQ(forget(), "0/0");
    // Changed again before delivery: b was only the source's, and goes.
    db.exec(fmt::format("UPDATE entries SET content_id = {} WHERE id = {}", cc, e));
    EXPECT_EQ(forget(), "1/0");
    EXPECT_EQ(db.query_int(fmt::format("SELECT count(*) FROM contents WHERE id = {}", b)), 0);
    // c delivered: a is nobody's; its piece waits on the cargo to be reclaimed.
    db.exec(fmt::format("UPDATE entries SET d_content_id = {} WHERE id = {}", cc, e));
    EXPECT_EQ(forget(), "1/0");
    EXPECT_EQ(db.query_int(fmt::format("SELECT on_cargo FROM pieces WHERE id = {}", pa)), 1);
    t.set_off_cargo(pa);
    EXPECT_EQ(forget(), "0/1") << "reclaimed: the piece goes too";
    EXPECT_FALSE(t.piece_by_hash(digest(1)));
    // Loaded again under a new content row: found and recorded anew.
    int64_t a2 = upsert_content(db, digest(1), 5, 1);
    EXPECT_NE(t.record_piece(digest(1), 5, a2, 0, 0), 0);
    EXPECT_TRUE(t.piece_by_hash(digest(1)));
    // What no write loosened is left to the pass of Forget::all (verify-middle).
    EXPECT_EQ(db.query_int(fmt::format("SELECT count(*) FROM contents WHERE id IN ({}, {})", never, a2)), 2);
    EXPECT_EQ(forget(Forget::all), "2/0") << "never and a2: nobody's (a2's piece stays on the cargo)";
    // The entry goes (its deletion delivered): c goes with it.
    db.exec(fmt::format("DELETE FROM entries WHERE id = {}", e));
    EXPECT_EQ(forget(), "1/0");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM contents"), 0);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM pieces WHERE on_cargo = 1"), 1);
    EXPECT_FALSE(db.prepare("PRAGMA foreign_key_check").step());
}

// Every run ends with the forget: it must read the notes and look each up by
// index, never pass over the contents, pieces or entries (SPEC §8: fixed costs
// proportional to the work).
TEST(Contents, TheForgetReadsOnlyTheNotes) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    const ForgetSql& sql = sql_forget_unneeded();
    std::string all = sql.prepare + "\n" + sql.contents + "\n" + sql.prepare_pieces + "\n" + sql.pieces + "\n" + sql.finish;
    size_t checked = 0;
    for (size_t at = 0; at < all.size();) {
        size_t end = all.find(';', at);
        std::string one = all.substr(at, end - at);
        at = end + 1;
        if (one.find_first_not_of(" \n") == std::string::npos) {
            continue;
        }
        ++checked;
        for (Statement st = c.db().prepare("EXPLAIN QUERY PLAN " + one); st.step();) {
            std::string step = st.column_text(3);
            if (step.find("SCAN") != std::string::npos) {
                EXPECT_TRUE(step == "SCAN contents_loose" || step == "SCAN l")
                    << "a pass in the forget: " << step << "\nof: " << one;
            }
        }
    }
    EXPECT_EQ(checked, 7u);
}

// Random writes as barge makes them, and a run's end after some: nothing a row
// needs is ever forgotten, and what a write left unneeded is gone after the run.
TEST(Contents, RandomWritesNeverForgetWhatIsNeeded) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    std::mt19937 rng(11);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    TransitStore t(db);
    int next = 1;
    auto any_content = [&]() -> std::string {
        if (pick(4) == 0) { // a new version: hashed, then recorded, maybe in pieces
            Digest d{};
            d[0] = static_cast<uint8_t>(next);
            d[1] = static_cast<uint8_t>(next >> 8);
            ++next;
            int pieces = 1 + pick(3);
            int64_t id = upsert_content(db, d, 10 * pieces, pieces);
            for (int k = 0; k < pieces; ++k) {
                Digest pd = d;
                pd[2] = static_cast<uint8_t>(k + (pieces == 1 ? 0 : 1));
                t.record_piece(pieces == 1 ? d : pd, 10, id, k, 10 * k);
            }
            return std::to_string(id);
        }
        std::string id = query_text(db, fmt::format("SELECT id FROM contents ORDER BY id LIMIT 1 OFFSET {} % "
                                                    "max(1, (SELECT count(*) FROM contents))",
                                                    pick(1000)));
        return id.empty() ? "NULL" : id;
    };
    // Needed, by the definition: named by an entry or a staged piece; a piece on the
    // cargo, or recorded for a needed content of more than one piece.
    const std::string content_needed = "(EXISTS (SELECT 1 FROM entries e WHERE e.content_id = c.id OR "
                                       "e.d_content_id = c.id) OR EXISTS (SELECT 1 FROM staged s WHERE "
                                       "s.content_id = c.id))";
    const std::string needed_contents = "SELECT count(*) FROM contents c WHERE " + content_needed;
    const std::string needed_pieces = "SELECT count(*) FROM pieces p WHERE p.on_cargo = 1 OR EXISTS (SELECT 1 "
                                      "FROM content_pieces cp JOIN contents c ON c.id = cp.content_id WHERE "
                                      "cp.piece_id = p.id AND (c.pieces > 1 OR cp.idx > 0) AND " +
                                      content_needed + ")";
    int forgotten = 0;
    for (int op = 0; op < 1500; ++op) {
        int name = pick(12);
        switch (pick(7)) {
        case 0:
        case 1: // scanned: a new entry or a new source version
            db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, size, content_id) VALUES "
                                "({0}, x'', CAST('n{1}' AS BLOB), 1, 10, {2}) ON CONFLICT(pair_id, parent, "
                                "name) DO UPDATE SET content_id = excluded.content_id, kind = 1",
                                p.id, name, any_content()));
            break;
        case 2: // delivered
            db.exec(fmt::format("UPDATE entries SET d_kind = 1, d_content_id = content_id WHERE name = "
                                "CAST('n{}' AS BLOB)",
                                name));
            break;
        case 3: // gone from the source, or its deletion delivered
            db.exec(pick(2) ? fmt::format("UPDATE entries SET kind = NULL, content_id = NULL WHERE name = "
                                          "CAST('n{}' AS BLOB)",
                                          name)
                            : fmt::format("DELETE FROM entries WHERE name = CAST('n{}' AS BLOB)", name));
            break;
        case 4: // staged, or assembled
            if (pick(2)) {
                std::string content = any_content();
                if (content != "NULL") {
                    db.exec(fmt::format("INSERT OR IGNORE INTO staged(pair_id, content_id, idx) VALUES ({}, {}, 0)",
                                        p.id, content));
                }
            } else {
                db.exec(fmt::format("DELETE FROM staged WHERE content_id IN (SELECT content_id FROM staged ORDER "
                                    "BY content_id LIMIT 1 OFFSET {} % max(1, (SELECT count(*) FROM staged)))",
                                    pick(1000)));
            }
            break;
        case 5: // a piece reclaimed, or loaded again
            db.exec(fmt::format("UPDATE pieces SET on_cargo = {} WHERE id IN (SELECT id FROM pieces ORDER BY id "
                                "LIMIT 1 OFFSET {} % max(1, (SELECT count(*) FROM pieces)))",
                                pick(3) ? 0 : 1, pick(1000)));
            break;
        default: { // a run ends
            // Every content is named as it is made here, so every unneeded one was
            // noted by the write that loosened it.
            ASSERT_EQ(db.query_int("SELECT count(*) FROM contents c WHERE NOT " + content_needed +
                                   " AND c.id NOT IN (SELECT id FROM contents_loose)"),
                      0)
                << "an unneeded content not noted, op " << op;
            int64_t contents = db.query_int(needed_contents);
            int64_t pieces = db.query_int(needed_pieces);
            Transaction tx(db);
            Forgotten f = forget_unneeded(db);
            tx.commit();
            forgotten += static_cast<int>(f.contents + f.pieces);
            ASSERT_EQ(db.query_int(needed_contents), contents) << "a needed content forgotten, op " << op;
            ASSERT_EQ(db.query_int(needed_pieces), pieces) << "a needed piece forgotten, op " << op;
            ASSERT_FALSE(db.prepare("PRAGMA foreign_key_check").step()) << "op " << op;
            ASSERT_EQ(db.query_int("SELECT count(*) FROM contents_loose") +
                          db.query_int("SELECT count(*) FROM pieces_loose"),
                      0);
            // And nothing unneeded is left: every write that loosened one noted it.
            ASSERT_EQ(db.query_int("SELECT count(*) FROM contents"), contents) << "op " << op;
            ASSERT_EQ(db.query_int("SELECT count(*) FROM pieces"), pieces) << "op " << op;
            ASSERT_EQ(db.query_int("SELECT count(*) FROM content_pieces cp JOIN contents c ON c.id = cp.content_id "
                                   "JOIN pieces p ON p.id = cp.piece_id WHERE c.pieces = 1 AND p.hash != c.hash"),
                      0)
                << "a one-piece content's piece with another hash, op " << op;
        }
        }
    }
    EXPECT_GT(forgotten, 50) << "the random writes did leave things unneeded";
    int64_t needed = db.query_int(needed_contents);
    int64_t unneeded = db.query_int("SELECT count(*) FROM contents") - needed; // noted since the last run's end
    Forgotten rest = forget_unneeded(db, Forget::all);
    EXPECT_EQ(rest.contents, unneeded);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM contents"), needed) << "after the pass, every content is needed";
    EXPECT_EQ(db.query_int(needed_contents), needed);
}

TEST(Contents, AHashIsRecordedOnceAndFoundByItsPrefix) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Digest a{};
    Digest b{};
    a[63] = 1;
    b[63] = 2; // the same first 8 bytes as a: the prefix alone must not match
    int64_t ia = upsert_content(db, a, 5);
    int64_t ib = upsert_content(db, b, 5, 1);
    EXPECT_NE(ia, ib);
    EXPECT_EQ(upsert_content(db, a, 5, 3), ia);
    EXPECT_EQ(db.query_int(fmt::format("SELECT pieces FROM contents WHERE id = {}", ia)), 3);
    EXPECT_EQ(upsert_content(db, a, 5), ia) << "no piece count given keeps the recorded one";
    EXPECT_EQ(db.query_int(fmt::format("SELECT pieces FROM contents WHERE id = {}", ia)), 3);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM contents"), 2);
    // The schema itself refuses a second row with a recorded hash, and a changed hash.
    EXPECT_THROW(db.exec("INSERT INTO contents(hash, size) SELECT hash, size FROM contents LIMIT 1"),
                 CatalogError);
    EXPECT_THROW(db.exec(fmt::format("UPDATE contents SET hash = randomblob(64) WHERE id = {}", ia)),
                 CatalogError);

    TransitStore t(db);
    int64_t pa = t.record_piece(a, 5, ia, 0, 0);
    int64_t pb = t.record_piece(b, 5, ib, 0, 0);
    EXPECT_NE(pa, pb);
    t.set_off_cargo(pa);
    EXPECT_EQ(t.record_piece(a, 5, ia, 0, 0), pa) << "a piece loaded again keeps its row";
    auto found = t.piece_by_hash(a);
    ASSERT_TRUE(found);
    EXPECT_EQ(found->id, pa);
    EXPECT_TRUE(found->on_cargo);
    Digest none{};
    none[0] = 9;
    EXPECT_FALSE(t.piece_by_hash(none));
    EXPECT_THROW(db.exec("INSERT INTO pieces(hash, size) SELECT hash, size FROM pieces LIMIT 1"),
                 CatalogError);
    // Lookups by hash read the prefix index, never the whole table.
    std::string plan;
    Statement q = db.prepare("EXPLAIN QUERY PLAN SELECT p.id FROM pieces p WHERE " +
                             sql_hash_is("p", "?1"));
    while (q.step()) {
        plan += q.column_text(3) + "\n";
    }
    EXPECT_NE(plan.find("USING INDEX pieces_hash"), std::string::npos) << plan;
}

TEST(Entries, PathBytesRoundTrip) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Pair p = c.add_pair({.name = "p", .source = "/s\xff\n", .dest = "/d"}, "u");
    EXPECT_EQ(c.find_pair("p")->source, "/s\xff\n");
    EntryStore store(c.db(), 1);
    std::vector<std::string> names = {"newline\nname", "bad\xff\xfeutf8", "-leading-dash",
                                      std::string(255, 'n'), "caf\xc3\xa9", "a:b?c*d"};
    FileStat st;
    for (const auto& n : names) {
        store.insert(p.id, "dir\x01", n, st, 1);
    }
    auto rows = store.children(p.id, "dir\x01");
    ASSERT_EQ(rows.size(), names.size());
    std::sort(names.begin(), names.end());
    for (size_t i = 0; i < names.size(); ++i) {
        EXPECT_EQ(rows[i].name, names[i]);
    }
}

// hash_work counts exactly what hash_jobs hands out (files without content, or
// racy ones), from any point on: the hash phase's progress total and the
// "left to hash" of a scan stopped early both come from it.
TEST(Entries, HashWorkCountsWhatHashJobsHandsOut) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Pair p = add_p(c);
    EntryStore store(c.db(), 1);
    std::vector<int64_t> ids;
    for (int i = 1; i <= 5; ++i) {
        FileStat st;
        st.size = 10 * i;
        ids.push_back(store.insert(p.id, "", "f" + std::to_string(i), st, 1));
    }
    FileStat dir_st;
    dir_st.kind = Kind::dir;
    store.insert(p.id, "", "d", dir_st, 1); // never hashed
    Digest h{};
    store.set_content(ids[1], store.content_id(h, 20), false); // hashed: not counted
    h[0] = 1;
    store.set_content(ids[2], store.content_id(h, 30), true); // racy: hashed again
    auto jobs = store.hash_jobs(p.id, 0, 100);
    int64_t bytes = 0;
    for (const auto& j : jobs) {
        bytes += j.st.size;
    }
    auto all = store.hash_work(p.id, 0);
    EXPECT_EQ(all.files, 4);
    EXPECT_EQ(all.files, static_cast<int64_t>(jobs.size()));
    EXPECT_EQ(all.bytes, 10 + 30 + 40 + 50);
    EXPECT_EQ(all.bytes, bytes);
    auto rest = store.hash_work(p.id, ids[2]);
    EXPECT_EQ(rest.files, 2);
    EXPECT_EQ(rest.bytes, 40 + 50);
}

// A delivered file that leaves an inode that other files of its pair have (a
// link group broken at the source), or had (gone from the source, still at the
// destination), is undelivered again, its copy at the destination still its
// content; a file alone on its inode, one not delivered, and inodes shared
// only with a gone entry the destination never held, another pair's or
// another device's are left as they are.
TEST(Entries, LeavingALinkGroupUndeliversTheName) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Pair p = add_p(c);
    Pair q = add_p(c, "q");
    EntryStore store(c.db(), 1);
    TransitStore t(c.db());
    FileStat st;
    st.size = 5;
    st.mtime_ns = 1000;
    st.dev = 3;
    Digest h{};
    int64_t content = store.content_id(h, 5);
    auto file = [&](const Pair& pair, const char* name, uint64_t ino, bool delivered) {
        st.ino = ino;
        int64_t id = store.insert(pair.id, "", name, st, 1);
        store.set_content(id, content, false);
        if (delivered) {
            t.mark_delivered(id, 1);
        }
        return id;
    };
    int64_t a = file(p, "a", 7, true);
    int64_t b = file(p, "b", 7, true);
    int64_t alone = file(p, "c", 8, true);
    int64_t waiting = file(p, "d", 7, false);
    int64_t with_gone = file(p, "e", 9, true);
    store.mark_gone(file(p, "f", 9, true), 2); // still at the destination
    int64_t with_gone_undelivered = file(p, "h", 11, true);
    store.mark_gone(file(p, "i", 11, false), 2);
    int64_t other_pair = file(p, "g", 10, true);
    file(q, "g", 10, true);
    auto delivered = [&](int64_t id) {
        Statement row = c.db().prepare(std::string("SELECT ") + sql_delivered +
                                       ", e.d_content_id FROM entries e WHERE e.id = ?");
        row.bind(1, id);
        EXPECT_TRUE(row.step());
        EXPECT_EQ(row.column_int(1), content) << "entry " << id << " keeps its destination's content";
        return row.column_int(0) != 0;
    };
    auto leave = [&](int64_t id, uint64_t ino) {
        st.ino = ino;
        return store.leave_link_group(id, p.id, st);
    };
    EXPECT_TRUE(leave(a, 7));
    EXPECT_FALSE(delivered(a));
    EXPECT_FALSE(leave(alone, 8));
    EXPECT_TRUE(delivered(alone));
    EXPECT_FALSE(leave(waiting, 7)) << "not delivered: nothing to undo";
    EXPECT_TRUE(leave(with_gone, 9)) << "a name gone from the source that the destination holds "
                                        "(which a rename may move to a new name)";
    EXPECT_FALSE(delivered(with_gone));
    EXPECT_FALSE(leave(with_gone_undelivered, 11)) << "a gone name the destination never held";
    EXPECT_TRUE(delivered(with_gone_undelivered));
    EXPECT_FALSE(leave(other_pair, 10));
    EXPECT_TRUE(delivered(other_pair));
    st.dev = 4;
    EXPECT_FALSE(leave(b, 7)) << "another device's inode 7";
    EXPECT_TRUE(delivered(b));
}

// A whole tree renamed: match_renames goes through the new files a page of 4,096
// at a time, so a file's candidates must never be split between two pages, and
// a match must never be made twice or skipped at a page's edge.
TEST(Entries, RenameMatchesCrossPagesOncePerNewFile) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    const int64_t n = 2 * 4096 + 100;
    // Contents 1..n+1; old files 1..n gone in generation 2 with content i, and
    // their new names n+1..2n (file i has inode i, size i, mtime i).
    db.exec(fmt::format("WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < {0} + 1) "
                        "INSERT INTO contents(id, hash, size) SELECT k, randomblob(64), k FROM i",
                        n));
    for (const char* side : {"old", "new"}) {
        bool old = side[0] == 'o';
        db.exec(fmt::format(
            "WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < {n}) "
            "INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, mtime_ns, ctime_ns, "
            "content_id, changed_gen) SELECT {p}, CAST('{side}' AS BLOB), CAST('f' || k AS BLOB), {kind}, k, "
            "1, k, k, k, {content}, 2 FROM i",
            fmt::arg("n", n), fmt::arg("p", p.id), fmt::arg("side", side), fmt::arg("kind", old ? "NULL" : "1"),
            fmt::arg("content", old ? "k" : "NULL")));
    }
    // A second link to file 1 found last (the last page), a second old entry of
    // inode 2, the one same_file takes for new/f2's past, and one of inode 4 that
    // comes after old/f4: new/f4's first past is its match, and its only one.
    db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, mtime_ns, ctime_ns, "
                        "content_id, changed_gen) VALUES ({0}, x'6e6577', x'6c696e6b', 1, 1, 1, 1, 1, 1, NULL, 2), "
                        "({0}, x'6f6c64', x'67', NULL, 2, 1, 2, 2, -1, {1}, 2), "
                        "({0}, x'6f6c64', x'68', NULL, 4, 1, 4, 4, 4, {1}, 2)",
                        p.id, n + 1));
    const int64_t link_id = 2 * n + 1, g_id = 2 * n + 2;
    EntryStore store(db, 1);
    std::vector<EntryStore::RenameMatch> seen;
    Transaction tx(db); // as the scan runs it
    store.match_renames(
        p.id, 2,
        [&](const EntryStore::RenameCandidate& m) {
            EXPECT_EQ(m.parent, "new");
            return m.name != "f3" && m.old_ctime_ns != 2; // new/f3 is no rename; old/f2 is not new/f2's past
        },
        [&](const EntryStore::RenameMatch& m) { seen.push_back(m); });
    tx.commit();
    ASSERT_EQ(static_cast<int64_t>(seen.size()), n) << "every new file but f3, and the link";
    for (size_t i = 1; i < seen.size(); ++i) {
        ASSERT_LT(seen[i - 1].new_id, seen[i].new_id) << "in id order, once each";
    }
    for (const auto& m : seen) {
        int64_t k = m.new_id - n; // new/fk
        int64_t want = m.new_id == link_id ? 1 : k == 2 ? g_id : k;
        ASSERT_EQ(m.old_id, want) << m.new_id;
        ASSERT_NE(k, 3);
    }
    EXPECT_EQ(db.query_int(fmt::format("SELECT count(*) FROM entries n JOIN entries o ON o.id = "
                                       "CASE n.id WHEN {0} THEN 1 WHEN {1} + 2 THEN {2} ELSE n.id - {1} END "
                                       "WHERE n.kind = 1 AND n.content_id IS o.content_id",
                                       link_id, n, g_id)),
              n)
        << "each new file took its past's content";
    EXPECT_EQ(db.query_int("SELECT count(*) FROM entries WHERE kind = 1 AND content_id IS NULL"), 1)
        << "new/f3 is hashed";
}

// Statements are cached by their SQL: a reused one starts with fresh bindings and
// from the first row, and a nested use of the same SQL gets its own statement.
TEST(Database, StatementCacheReusesSafely) {
    TestDir dir;
    Database db(dir / "t.db", Database::Create::yes);
    db.exec("CREATE TABLE t(x INTEGER)");
    for (int i = 1; i <= 3; ++i) {
        db.prepare("INSERT INTO t(x) VALUES (?)").bind(1, i).run();
    }
    const char* sql = "SELECT x FROM t WHERE x >= ? ORDER BY x";
    {
        Statement a = db.prepare(sql);
        a.bind(1, 2);
        ASSERT_TRUE(a.step());
        EXPECT_EQ(a.column_int(0), 2);
        // The same SQL while `a` is in the middle of its rows.
        Statement b = db.prepare(sql);
        b.bind(1, 1);
        ASSERT_TRUE(b.step());
        EXPECT_EQ(b.column_int(0), 1);
        ASSERT_TRUE(a.step());
        EXPECT_EQ(a.column_int(0), 3);
    }
    // Given back mid-iteration: the next user starts over, with nothing bound
    // (NULL: no row matches).
    Statement c = db.prepare(sql);
    EXPECT_FALSE(c.step());
    c.reset();
    c.bind(1, 3);
    ASSERT_TRUE(c.step());
    EXPECT_EQ(c.column_int(0), 3);
}

// The old name a new file is renamed from at the destination: one of its own
// source file (the same inode and device) first, else the lowest id of that
// content; an inode of 0 (unknown) is no one's own (random_history.sh seed 139).
TEST(Transit, ARenameTakesItsOwnFilesOldNameFirst) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    auto digest = digest_of;
    int64_t a = upsert_content(db, digest(1), 4, 1);
    int64_t b = upsert_content(db, digest(2), 4, 1);
    // Gone and delivered (x'6f' "o" ...): another file's old name of content a
    // first (lowest id), then the own ones, one of content b, one damaged.
    auto gone = [&](const char* name, int64_t ino, int64_t dev, int64_t content, int damaged) {
        db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, d_kind, "
                            "d_content_id, d_damaged) VALUES ({}, x'', CAST('{}' AS BLOB), NULL, {}, {}, 4, 1, {}, {})",
                            p.id, name, ino, dev, content, damaged));
        return db.last_insert_rowid();
    };
    auto fresh = [&](const char* name, int64_t ino, int64_t dev, int64_t content) {
        db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, content_id) "
                            "VALUES ({}, CAST('n' AS BLOB), CAST('{}' AS BLOB), 1, {}, {}, 4, {})",
                            p.id, name, ino, dev, content));
        return db.last_insert_rowid();
    };
    int64_t other = gone("other", 100, 7, a, 0);
    int64_t zero = gone("zero", 0, 7, a, 0);
    int64_t damaged = gone("damaged", 200, 7, a, 1);
    int64_t own = gone("own", 200, 7, a, 0);
    int64_t own_b = gone("own-b", 300, 7, b, 0);
    int64_t n_own = fresh("1-own", 200, 7, a);       // its own old name has a higher id
    int64_t n_dev = fresh("2-dev", 200, 8, a);       // the inode on another device: not its own
    int64_t n_zero = fresh("3-zero", 0, 7, a);       // no inode known: not "zero"'s
    int64_t n_content = fresh("4-content", 300, 7, a); // its inode's old name has other bytes
    int64_t n_none = fresh("5-none", 400, 7, upsert_content(db, digest(3), 4, 1));
    TransitStore t(db);
    std::map<int64_t, int64_t> from;
    for (const RenameItem& r : t.renames(p.id, "", "", 100)) {
        from[r.to.entry_id] = r.from_id;
    }
    EXPECT_EQ(from, (std::map<int64_t, int64_t>{{n_own, own}, {n_dev, other}, {n_zero, other}, {n_content, other}}))
        << "own " << own << ", other " << other << ", zero " << zero << ", damaged " << damaged << ", own-b "
        << own_b << "; " << n_none << " has no old name";
    for (auto [id, want] : std::map<int64_t, int64_t>{{n_own, own}, {n_dev, other}, {n_zero, other}}) {
        auto got = t.rename_source(id);
        ASSERT_TRUE(got) << id;
        EXPECT_EQ(got->first, want) << "rename_source picks as renames does, for " << id;
    }
    EXPECT_FALSE(t.rename_source(n_none));
    t.forget_entry(own);
    EXPECT_EQ(t.rename_source(n_own)->first, other) << "its own old name forgotten: the lowest id of the others";
}

// A link group's name whose content this drive does not know (never hashed
// here, another drive's hash not taken) leads when the destination holds it
// with the content of the name to link, as another drive delivered it
// (rotation_faults.sh 18); with other content there, another size, or not
// delivered, it does not.
TEST(Transit, ALinkLeaderMayBeANameWhoseContentThisDriveDoesNotKnow) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    int64_t a = upsert_content(db, digest_of(1), 4, 1);
    int64_t b = upsert_content(db, digest_of(2), 4, 1);
    // Unknown content, of inode 50 on device 7 with mtime 1000; delivered
    // (d_kind 1, the rest of what was delivered as the source has it) with
    // content `held`, or not delivered (held 0).
    auto unknown = [&](const char* name, int64_t size, int64_t held) {
        db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, mtime_ns, d_kind, "
                            "d_mode, d_uid, d_gid, d_mtime_ns, d_content_id) VALUES ({}, CAST('n' AS BLOB), "
                            "CAST('{}' AS BLOB), 1, 50, 7, {}, 1000, {}, 0, 0, 0, 1000, {})",
                            p.id, name, size, held ? "1" : "NULL", held ? std::to_string(held) : "NULL"));
        return db.last_insert_rowid();
    };
    db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, ino, dev, size, mtime_ns, content_id) "
                        "VALUES ({}, CAST('n' AS BLOB), CAST('m' AS BLOB), 1, 50, 7, 4, 1000, {})",
                        p.id, a));
    DeliveryItem d;
    d.parent = "n";
    d.name = "m";
    d.entry_id = db.last_insert_rowid();
    d.st.ino = 50;
    d.st.dev = 7;
    d.st.size = 4;
    d.st.mtime_ns = 1000;
    d.content_id = a;
    TransitStore t(db);
    int64_t held_b = unknown("z-b", 4, b);
    EXPECT_FALSE(t.link_leader(p.id, d)) << "other content at the destination, after m in path order";
    int64_t other_size = unknown("a-size", 5, 0);
    EXPECT_FALSE(t.link_leader(p.id, d)) << "another size is another file";
    int64_t waiting = unknown("b-waiting", 4, 0);
    EXPECT_FALSE(t.link_leader(p.id, d)) << "not delivered, its content unknown: it cannot lead, though first";
    int64_t held_a = unknown("y-a", 4, a);
    auto leader = t.link_leader(p.id, d);
    ASSERT_TRUE(leader);
    EXPECT_EQ(leader->id, held_a) << "held with m's content at the destination: it leads (z-b " << held_b
                                  << ", a-size " << other_size << ", b-waiting " << waiting << ")";
    EXPECT_TRUE(leader->delivered);
    EXPECT_EQ(leader->path.rel(), "n/y-a");
}

// Deletions come children first (reverse path order), a page at a time below the
// last page's key, whatever the callback does with the rows it is given: those
// it forgets and those it leaves (a failure) are both passed over, and false stops.
TEST(Transit, DeletionsComePageByPageChildrenFirst) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    // Gone from the source and delivered (x'' is the root), inserted out of order;
    // a gone entry never delivered, and a live one, are not deletions.
    db.exec(fmt::format(
        "INSERT INTO entries(pair_id, parent, name, kind, d_kind) VALUES "
        "({0}, x'61', x'32', NULL, 1), ({0}, x'', x'61', NULL, 2), ({0}, x'6162', x'31', NULL, 1), "
        "({0}, x'', x'62', NULL, 1), ({0}, x'61', x'62', NULL, 2), ({0}, x'61', x'31', NULL, 1), "
        "({0}, x'', x'63', NULL, NULL), ({0}, x'', x'64', 1, 1)",
        p.id));
    TransitStore t(db);
    std::vector<std::string> seen;
    std::vector<size_t> sizes;
    t.each_deletion_page(p.id, 2, [&](std::vector<DeliveryItem>& page) {
        sizes.push_back(page.size());
        for (const auto& d : page) {
            seen.push_back(d.rel());
        }
        t.forget_entry(page.front().entry_id); // the second of each page is left
        return true;
    });
    EXPECT_EQ(seen, (std::vector<std::string>{"ab/1", "a/b", "a/2", "a/1", "b", "a"}));
    EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 2}));
    EXPECT_EQ(db.query_int("SELECT count(*) FROM entries WHERE kind IS NULL AND d_kind IS NOT NULL"), 3);
    int pages = 0;
    t.each_deletion_page(p.id, 1, [&](std::vector<DeliveryItem>&) { return ++pages < 2; });
    EXPECT_EQ(pages, 2) << "false stops the pages";
}

// Schema 10: entries_gone in path order serves the deletions' reverse order
// from the index, a page at a time, where it sorted every gone entry in memory.
TEST(Migration, VersionTenOrdersTheGoneEntriesByPath) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(9), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 9);
    insert_pair_p(db);
    db.exec("INSERT INTO entries(pair_id, parent, name, kind, d_kind) VALUES (1, x'', x'61', NULL, 1), "
            "(1, x'', x'62', 1, 1), (1, x'', x'63', NULL, 1)");
    int backups = 0;
    migrate(db, migrations(), [&](int) { ++backups; });
    EXPECT_EQ(backups, 1);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), schema_version);
    EXPECT_EQ(query_text(db, "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('entries_gone') "
                             "ORDER BY seqno)"),
              "pair_id,parent,name");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM entries INDEXED BY entries_gone WHERE pair_id = 1 AND kind IS NULL"), 2);
    // The statement unload runs: each page a range of the index below the last
    // key, read backwards (not sorted in memory, not the index from its end again).
    for (bool after_key : {false, true}) {
        Statement plan = db.prepare("EXPLAIN QUERY PLAN " + TransitStore::deletion_page_sql(after_key));
        std::string steps;
        while (plan.step()) {
            steps += plan.column_text(3) + "; ";
        }
        EXPECT_EQ(steps.find("TEMP B-TREE"), std::string::npos) << "sorted in memory: " << steps;
        EXPECT_NE(steps.find("USING INDEX entries_gone (pair_id=?"), std::string::npos) << steps;
        EXPECT_EQ(steps.find("(parent,name)<(?,?)") != std::string::npos, after_key) << steps;
    }
}

// Schema 11 indexes the files missed at every try (fail_ns without fail_reason)
// and nothing else: a catalog of version 10 has none, its failures stay failures,
// and what version 10 left of a repaired damage (fail_ns, fail_count without a
// reason: VerifyStore::set_verified) is cleared, not taken for a miss.
TEST(Migration, VersionElevenIndexesOnlyTheMissedFiles) {
    TestDir dir;
    Database db(dir / "m.db", Database::Create::yes);
    db.exec("PRAGMA foreign_keys = ON");
    migrate(db, up_to_version(10), [](int) {});
    ASSERT_EQ(db.query_int("PRAGMA user_version"), 10);
    insert_pair_p(db);
    db.exec(
        "INSERT INTO entries(pair_id, parent, name, kind, fail_count, fail_reason, fail_ns) VALUES "
        "(1, x'', x'61', 1, 2, 'read: Input/output error', 5), (1, x'', x'62', 1, 0, NULL, NULL), "
        "(1, x'', x'63', 1, 1, NULL, 6)");
    int backups = 0;
    migrate(db, migrations(), [&](int) { ++backups; });
    EXPECT_EQ(backups, 1);
    EXPECT_EQ(db.query_int("PRAGMA user_version"), schema_version);
    const char* const missed =
        "SELECT count(*) FROM entries INDEXED BY entries_unsettled WHERE pair_id = 1 AND "
        "fail_reason IS NULL AND fail_ns IS NOT NULL";
    EXPECT_EQ(db.query_int(missed), 0);
    EXPECT_EQ(
        db.query_int(
            "SELECT count(*) FROM entries WHERE id = 3 AND fail_ns IS NULL AND fail_count = 0"),
        1);
    EXPECT_EQ(
        db.query_int("SELECT count(*) FROM entries INDEXED BY entries_failed WHERE pair_id = 1 AND "
                     "fail_reason IS NOT NULL"),
        1);
    TransitStore(db).note_miss(2, 7);
    TransitStore(db).note_miss(1, 7);
    EXPECT_EQ(db.query_int(missed), 1);
}

// The pieces on the cargo, and those free to reclaim, come in id order a page at
// a time, each once, though the callback takes pieces off the cargo as it goes.
TEST(Transit, PiecesOnTheCargoComePageByPage) {
    TestDir dir;
    Catalog c = Catalog::create(dir / "barge.db", 4096, "d");
    Database& db = c.db();
    Pair p = add_p(c);
    for (int i = 1; i <= 7; ++i) { // pieces 3 and 6 are off the cargo
        db.exec(fmt::format("INSERT INTO pieces(id, hash, size, on_cargo) VALUES ({}, randomblob(64), {}, {})", i,
                            i * 10, i == 3 || i == 6 ? 0 : 1));
    }
    // Piece 5 is a file's that is not delivered yet.
    db.exec("INSERT INTO contents(id, hash, size, pieces) VALUES (1, randomblob(64), 50, 1)");
    db.exec("INSERT INTO content_pieces(content_id, idx, piece_id, offset) VALUES (1, 0, 5, 0)");
    db.exec(fmt::format("INSERT INTO entries(pair_id, parent, name, kind, size, content_id) VALUES "
                        "({}, x'', x'66', 1, 50, 1)",
                        p.id));
    TransitStore t(db);
    std::vector<int64_t> seen;
    std::vector<size_t> sizes;
    t.each_piece_on_cargo(2, [&](std::vector<PieceRow>& page) {
        sizes.push_back(page.size());
        for (const auto& r : page) {
            seen.push_back(r.id);
        }
        t.set_off_cargo(page.front().id);
        return true;
    });
    EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 4, 5, 7}));
    EXPECT_EQ(sizes, (std::vector<size_t>{2, 2, 1}));
    std::vector<int64_t> reclaimable;
    t.each_reclaimable_piece(1, [&](std::vector<PieceRow>& page) {
        for (const auto& r : page) {
            reclaimable.push_back(r.id);
        }
        return true;
    });
    EXPECT_EQ(reclaimable, (std::vector<int64_t>{2})) << "1, 4 and 7 went off the cargo; 5 is still needed";
    int pages = 0;
    t.each_piece_on_cargo(1, [&](std::vector<PieceRow>&) { return ++pages < 1; });
    EXPECT_EQ(pages, 1) << "false stops the pages";
}
