#include "vfs_helpers.hpp"

#include <random>

using namespace barge;
using namespace vfs_test;

namespace {

constexpr const char* sqlite_magic = "SQLite format 3";

std::string flipped(std::string bytes, size_t at) {
    bytes[at] = static_cast<char>(bytes[at] ^ 0x04);
    return bytes;
}

// Opens a database and reads every page: nullopt when that works, else why it failed:
// the shim's refusal, or "sqlite: " and SQLite's own error when the shim saw nothing.
template <typename Open> std::optional<std::string> refusal(Open open) {
    take_page_failure();
    try {
        Database db = open();
        std::string result = integrity(db);
        if (result == "ok") {
            return std::nullopt;
        }
        return take_page_failure().value_or("sqlite: " + result);
    } catch (const CatalogError& e) {
        // Database puts the shim's refusal into its error ("... is corrupt: page 3 ...").
        std::string what = e.what();
        if (auto at = what.find(" is corrupt: "); at != std::string::npos) {
            return what.substr(at + 13);
        }
        return take_page_failure().value_or("sqlite: " + what);
    }
}

// True when the shim itself refused a page.
bool shim_refused(const std::optional<std::string>& why) {
    return why && why->find("page") != std::string::npos && why->find("sqlite: ") != 0;
}

class Vfs : public VfsTest {};

} // namespace

INSTANTIATE_TEST_SUITE_P(Modes, Vfs, ::testing::Values(Mode::checksum, Mode::encrypted), mode_name);

TEST_P(Vfs, CreateInsertReopenSelect) {
    {
        Database db = open(Database::Create::yes);
        db.exec("CREATE TABLE kv(k TEXT PRIMARY KEY, v TEXT)");
        db.exec("INSERT INTO kv VALUES ('a', 'one'), ('b', 'two')");
    }
    Database db = open();
    Statement st = db.prepare("SELECT group_concat(k || '=' || v, ',') FROM kv ORDER BY k");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), "a=one,b=two");
    EXPECT_EQ(db.query_int("PRAGMA page_size"), 4096);
    std::string file = slurp(path);
    ASSERT_EQ(file.size() % 4096, 0u);
    if (encrypted()) {
        EXPECT_EQ(file.find(sqlite_magic), std::string::npos); // page 1 too is sealed
        EXPECT_EQ(file.find("two"), std::string::npos);
    } else {
        EXPECT_EQ(file.substr(0, 15), sqlite_magic);
        EXPECT_EQ(file[20], 8); // 8 reserved bytes per page
    }
}

TEST_P(Vfs, ManyPages) {
    make(20000);
    Database db = open();
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 20000);
    EXPECT_EQ(db.query_int("SELECT sum(length(b)) FROM t"), 2000000);
    EXPECT_GT(db.query_int("PRAGMA page_count"), 500);
    EXPECT_EQ(integrity(db), "ok");
    db.exec("DELETE FROM t WHERE id % 2 = 0");
    db.exec("VACUUM"); // rewrites every page through the shim
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 10000);
    EXPECT_EQ(integrity(db), "ok");
}

TEST_P(Vfs, AFlippedByteInAnyPageIsRefused) {
    make(1000);
    std::string good = slurp(path);
    size_t pages = good.size() / 4096;
    ASSERT_GT(pages, 20u);
    ASSERT_EQ(refusal([&] { return open(); }), std::nullopt) << "the intact file reads";
    std::mt19937 rng(3);
    for (size_t page = 0; page < pages; ++page) {
        size_t at = page * 4096 + (page == 0 ? 100 + rng() % 3996 : rng() % 4096);
        put(path, flipped(good, at));
        auto why = refusal([&] { return open(); });
        EXPECT_TRUE(shim_refused(why))
            << "byte " << at << " of page " << page + 1 << ": " << why.value_or("read");
    }
    // Page 1's header: SQLite may see some of these itself (a page size that is no power
    // of two) before the shim reads the page; refused either way.
    for (size_t at : {size_t{0}, size_t{16}, size_t{18}, size_t{20}, size_t{24}, size_t{60}}) {
        put(path, flipped(good, at));
        EXPECT_NE(refusal([&] { return open(); }), std::nullopt) << "header byte " << at;
    }
}

TEST_P(Vfs, TheRefusalSaysWhichPage) {
    make(1000);
    put(path, flipped(slurp(path), 5 * 4096 + 300));
    Database db = open();
    take_page_failure();
    try {
        integrity(db);
        FAIL() << "a damaged page was read";
    } catch (const CatalogError& e) {
        std::string why = e.what();
        EXPECT_NE(why.find("page 6 of '" + path + "'"), std::string::npos) << why;
    }
    EXPECT_EQ(take_page_failure(), std::nullopt) << "taken once, by the error";
}

TEST_P(Vfs, SwappedPagesAreRefused) {
    make(1000);
    std::string good = slurp(path);
    for (auto [a, b] : {std::pair{2, 3}, std::pair{0, 7}, std::pair{5, 20}}) {
        std::string bad = good;
        std::swap_ranges(bad.begin() + a * 4096, bad.begin() + (a + 1) * 4096,
                         bad.begin() + b * 4096);
        put(path, bad);
        auto why = refusal([&] { return open(); });
        // A checksummed file without SQLite's magic in front is refused by SQLite first.
        bool by_sqlite_first = a == 0 && !encrypted();
        EXPECT_TRUE(by_sqlite_first ? why.has_value() : shim_refused(why))
            << a << " <-> " << b << ": " << why.value_or("read");
    }
    put(path, good);
    EXPECT_EQ(refusal([&] { return open(); }), std::nullopt);
}

TEST_P(Vfs, WrongKeyOrDriveOrModeCannotRead) {
    make(100);
    auto open_with = [&](SecretKey k, std::string_view drive) {
        return
            [&, drive,
             p = std::make_shared<PageProtection>(PageProtection::encrypted(std::move(k), drive))] {
                return open_protected(path, Database::Create::no, *p);
            };
    };
    if (!encrypted()) {
        EXPECT_TRUE(shim_refused(refusal(open_with(SecretKey::random(), "drive-A"))))
            << "a checksummed file opened as an encrypted one";
        return;
    }
    auto why = refusal(open_with(SecretKey::random(), "drive-A"));
    EXPECT_TRUE(shim_refused(why)) << why.value_or("read");
    EXPECT_NE(why.value_or("").find("does not authenticate"), std::string::npos);
    why = refusal(open_with(SecretKey::from_bytes(key.bytes()), "drive-B"));
    EXPECT_TRUE(shim_refused(why)) << "another drive's catalog: " << why.value_or("read");
    EXPECT_EQ(refusal(open_with(SecretKey::from_bytes(key.bytes()), "drive-A")), std::nullopt);
    // Without the shim, an encrypted catalog is not even a database.
    EXPECT_NE(refusal([&] { return Database(path, Database::Create::no); }), std::nullopt);
}

TEST_P(Vfs, AProtectionIsNeededOnlyUntilTheFileIsOpen) {
    make(10);
    std::optional<PageProtection> p = protection();
    Database db = open_protected(path, Database::Create::no, *p);
    p.reset();
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 10);
    db.exec("INSERT INTO t VALUES (11, x'00')");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 11);
}

TEST(VfsEncrypted, AGoneKeyCannotOpen) {
    TestDir dir;
    std::string params;
    {
        PageProtection p = PageProtection::encrypted(SecretKey::random(), "d");
        params = p.uri_params();
    }
    register_page_vfs();
    EXPECT_THROW(Database(dir / "x.db", Database::Create::yes, page_vfs_name, params),
                 CatalogError);
    EXPECT_THROW(Database(dir / "y.db", Database::Create::yes, page_vfs_name, ""), CatalogError)
        << "the shim refuses a file opened without a protection";
}

TEST(VfsEncrypted, AnUnpreparedDatabaseIsNotWritten) {
    TestDir dir;
    PageProtection p = PageProtection::encrypted(SecretKey::random(), "d");
    Database db = open_protected(dir / "x.db", Database::Create::yes, p);
    db.exec("PRAGMA page_size = 8192");
    try {
        db.exec("CREATE TABLE t(a)");
        FAIL() << "an unprepared encrypted database was written";
    } catch (const CatalogError& e) {
        EXPECT_NE(std::string(e.what()).find("prepare_protected"), std::string::npos) << e.what();
    }
}

TEST(VfsEncrypted, NoWal) {
    TestDir dir;
    PageProtection p = PageProtection::encrypted(SecretKey::random(), "d");
    Database db = open_protected(dir / "x.db", Database::Create::yes, p);
    prepare_protected(db, p);
    db.exec("CREATE TABLE t(a)");
    db.exec("PRAGMA locking_mode = EXCLUSIVE"); // lets SQLite try WAL without shared memory
    bool refused = false;
    try {
        Statement st = db.prepare("PRAGMA journal_mode = WAL");
        refused = !st.step() || st.column_text(0) != "wal";
        st.reset();
        db.exec("INSERT INTO t VALUES (1)");
    } catch (const CatalogError&) {
        refused = true;
    }
    EXPECT_TRUE(refused);
    EXPECT_FALSE(vfs_test::exists(dir / "x.db-wal"));
}

TEST(VfsChecksum, ALegacyDatabasePassesThrough) {
    TestDir dir;
    std::string path = dir / "old.db";
    {
        Database old(path, Database::Create::yes); // no shim, no reserved bytes
        old.exec("CREATE TABLE t(a TEXT); INSERT INTO t VALUES ('from 0.1')");
    }
    ASSERT_EQ(slurp(path)[20], 0);
    PageProtection p = PageProtection::checksum();
    {
        Database db = open_protected(path, Database::Create::no, p);
        EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 1);
        db.exec("INSERT INTO t VALUES ('from the shim')");
    }
    EXPECT_EQ(slurp(path)[20], 0); // still a legacy file, readable without the shim
    Database plain(path, Database::Create::no);
    EXPECT_EQ(plain.query_int("SELECT count(*) FROM t"), 2);
    EXPECT_EQ(integrity(plain), "ok");
}

// How the integrator migrates a catalog made before the shim: VACUUM INTO a new file
// through the shim, then (not shown) rename it over the old one.
TEST(VfsChecksum, VacuumIntoTurnsALegacyDatabaseIntoAProtectedOne) {
    TestDir dir;
    std::string old_path = dir / "old.db", sums = dir / "sums.db", sealed = dir / "sealed.db";
    {
        Database old(old_path, Database::Create::yes);
        old.exec("CREATE TABLE t(a TEXT); INSERT INTO t VALUES ('secret name')");
    }
    PageProtection checksum = PageProtection::checksum();
    PageProtection encrypted = PageProtection::encrypted(SecretKey::random(), "d");
    {
        Database plain(old_path, Database::Create::no);
        EXPECT_THROW(vacuum_into_protected(plain, sums, checksum), CatalogError)
            << "needs a connection through the shim";
    }
    {
        Database old = open_protected(old_path, Database::Create::no, checksum);
        vacuum_into_protected(old, sums, checksum);
    }
    {
        Database old = open_protected(old_path, Database::Create::no, checksum);
        vacuum_into_protected(old, sealed, encrypted);
    }
    EXPECT_EQ(slurp(sums)[20], 8);
    EXPECT_FALSE(contains(sealed, "secret name"));
    EXPECT_FALSE(contains(sealed, sqlite_magic));
    for (const auto& [path, p] : {std::pair{sums, &checksum}, std::pair{sealed, &encrypted}}) {
        {
            Database db = open_protected(path, Database::Create::no, *p);
            Statement st = db.prepare("SELECT a FROM t");
            ASSERT_TRUE(st.step());
            EXPECT_EQ(st.column_text(0), "secret name");
        }
        put(path, flipped(slurp(path), 4096 - 50)); // now checked: damage is refused
        auto reopen = [&] { return open_protected(path, Database::Create::no, *p); };
        EXPECT_TRUE(shim_refused(refusal(reopen)));
    }
}

// Byte 20 is the reserve: set to 0, SQLite would read the pages as unchecked ones and
// ignore their last 8 bytes. The shim sees page 1 still carries its checksum.
TEST(VfsChecksum, AHeaderThatDisownsItsChecksumsIsCaught) {
    TestDir dir;
    std::string path = dir / "c.db";
    PageProtection p = PageProtection::checksum();
    {
        Database db = open_protected(path, Database::Create::yes, p);
        prepare_protected(db, p);
        db.exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
    }
    std::string bytes = slurp(path);
    ASSERT_EQ(bytes[20], 8);
    bytes[20] = 0;
    put(path, bytes);
    auto why = refusal([&] { return open_protected(path, Database::Create::no, p); });
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("header says otherwise"), std::string::npos) << *why;
}
