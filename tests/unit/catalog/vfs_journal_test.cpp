#include "barge/catalog/page_codec.hpp"
#include "vfs_helpers.hpp"

#include <sys/wait.h>

using namespace barge;
using namespace vfs_test;

namespace {

const std::string marker = "MARKER-plaintext-4f1d";

class VfsJournal : public VfsTest {
protected:
    std::string journal = path + "-journal";

    // In encrypted mode, no trace of the marker or of SQLite's magic in the database or
    // its journal. In checksum mode the marker is expected in on_disk (when given): the
    // check itself is shown to find plaintext.
    void expect_no_plaintext(const char* when, const std::string& on_disk = "") {
        if (!encrypted()) {
            if (!on_disk.empty()) {
                EXPECT_TRUE(contains(on_disk, marker)) << on_disk << " " << when;
            }
            return;
        }
        for (const std::string& f : {path, journal}) {
            EXPECT_FALSE(contains(f, marker)) << f << " " << when;
            EXPECT_FALSE(contains(f, "SQLite format 3")) << f << " " << when;
        }
    }

    // A child writes a transaction big enough to spill pages into the database file,
    // then dies before COMMIT: a hot journal is left behind.
    void crash_mid_transaction() {
        pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            try {
                Database db = open();
                db.exec("PRAGMA locking_mode = EXCLUSIVE");
                db.exec("PRAGMA cache_size = 10"); // pages: forces spills mid-transaction
                db.exec("BEGIN");
                db.exec("UPDATE t SET b = randomblob(100)");
                db.exec("INSERT INTO t SELECT id + 100000, '" + marker + "' || b FROM t");
                _exit(42); // no COMMIT, no destructors, no unlock: as if killed
            } catch (const Error&) {
                _exit(1);
            }
        }
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 42) << "the child failed before its crash";
    }
};

} // namespace

INSTANTIATE_TEST_SUITE_P(Modes, VfsJournal, ::testing::Values(Mode::checksum, Mode::encrypted),
                         mode_name);

TEST_P(VfsJournal, NoPlaintextDuringAndAfterExclusiveTransactions) {
    make(200);
    Database db = open();
    db.exec("PRAGMA locking_mode = EXCLUSIVE");
    db.exec("BEGIN");
    db.exec("INSERT INTO t VALUES (500, '" + marker + "')");
    db.exec("UPDATE t SET b = x'00' WHERE id = 1"); // journals the first leaf page
    expect_no_plaintext("inside the first transaction");
    db.exec("COMMIT");
    EXPECT_TRUE(exists(journal)) << "EXCLUSIVE mode keeps the journal between transactions";
    expect_no_plaintext("after the first commit", path);
    // Now the marker's page is journaled: its old image holds the marker.
    db.exec("BEGIN");
    db.exec("UPDATE t SET b = x'01' WHERE id = 500");
    expect_no_plaintext("while the marker's page is in the journal", journal);
    db.exec("ROLLBACK"); // read back from the journal through the shim
    Statement st = db.prepare("SELECT b FROM t WHERE id = 500");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.column_text(0), marker);
}

TEST_P(VfsJournal, SavepointRollbackReadsTheJournal) {
    make(500);
    Database db = open();
    db.exec("PRAGMA cache_size = 10");
    db.exec("BEGIN");
    db.exec("UPDATE t SET b = x'02' WHERE id < 100");
    db.exec("SAVEPOINT s");
    db.exec("UPDATE t SET b = x'03'");
    db.exec("ROLLBACK TO s");
    db.exec("COMMIT");
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t WHERE b = x'02'"), 99);
    EXPECT_EQ(db.query_int("SELECT count(*) FROM t WHERE length(b) = 100"), 401);
    EXPECT_EQ(integrity(db), "ok");
}

TEST_P(VfsJournal, AHotJournalIsRolledBackThroughTheShim) {
    make(2000);
    std::string before = slurp(path);
    int64_t sum_before = 0;
    {
        Database db = open();
        sum_before = db.query_int("SELECT sum(unicode(hex(b))) + sum(length(b)) FROM t");
    }
    crash_mid_transaction();
    ASSERT_TRUE(exists(journal));
    EXPECT_GT(slurp(journal).size(), 4096u);
    EXPECT_NE(slurp(path), before) << "pages spilled into the database before the crash";
    expect_no_plaintext("after a crash", path);
    {
        Database db = open();
        EXPECT_EQ(db.query_int("SELECT count(*) FROM t"), 2000);
        EXPECT_EQ(db.query_int("SELECT sum(unicode(hex(b))) + sum(length(b)) FROM t"), sum_before);
        EXPECT_EQ(integrity(db), "ok");
    }
    EXPECT_FALSE(exists(journal));
}

TEST_P(VfsJournal, ATamperedHotJournalIsRefusedNotReplayed) {
    make(2000);
    crash_mid_transaction();
    std::string j = slurp(journal);
    // The first record's page image starts after the journal header (512 bytes, the
    // sector size SQLite uses with powersafe overwrite) and its 4-byte page number.
    size_t image = 512 + 4 + 1000;
    ASSERT_GT(j.size(), image);
    j[image] = static_cast<char>(j[image] ^ 0x01);
    put(journal, j);
    bool failed = false;
    try {
        Database db = open();
        failed = integrity(db) != "ok";
    } catch (const CatalogError&) {
        failed = true;
    }
    EXPECT_TRUE(failed) << "a damaged journal image must not be written back silently";
    EXPECT_TRUE(exists(journal)) << "the journal stays for a later, intact rollback";
}

// SQLite follows each page image in the journal with a 4-byte checksum of 20 of its
// plaintext bytes; in encrypted mode the shim masks it. Computed here from the page as
// restored by the rollback, it matches in checksum mode (so the computation is right)
// and must not in encrypted mode.
TEST_P(VfsJournal, JournalChecksumsAreMasked) {
    make(2000);
    crash_mid_transaction();
    std::string j = slurp(journal);
    auto be32 = [&](size_t at) {
        return (uint32_t{static_cast<uint8_t>(j[at])} << 24) |
               (uint32_t{static_cast<uint8_t>(j[at + 1])} << 16) |
               (uint32_t{static_cast<uint8_t>(j[at + 2])} << 8) | static_cast<uint8_t>(j[at + 3]);
    };
    // Header, then (at the 512-byte sector) page number, image, checksum.
    ASSERT_EQ(be32(0), 0xd9d505f9u);
    uint32_t cksum_init = be32(12), pgno = be32(512), stored = be32(512 + 4 + 4096);
    {
        Database db = open(); // rolls back: the page is again what the journal held
        ASSERT_LE(pgno, static_cast<uint32_t>(db.query_int("PRAGMA page_count")));
    }
    std::string page = slurp(path).substr((pgno - 1) * size_t{4096}, 4096);
    if (encrypted()) {
        PageCipher cipher(SecretKey::from_bytes(key.bytes()), "drive-A");
        ASSERT_TRUE(
            cipher.open(PageKind::database, pgno, 0, reinterpret_cast<uint8_t*>(page.data())));
    }
    uint32_t sqlite_sum = cksum_init;
    for (int i = 4096 - 200; i > 0; i -= 200) {
        sqlite_sum += static_cast<uint8_t>(page[static_cast<size_t>(i)]);
    }
    if (encrypted()) {
        EXPECT_NE(stored, sqlite_sum);
    } else {
        EXPECT_EQ(stored, sqlite_sum);
    }
}
