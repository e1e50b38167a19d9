#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/catalog/page_codec.hpp"
#include "barge/catalog/page_map.hpp"
#include "barge/catalog/replica.hpp"
#include "barge/hash/blake2b.hpp"
#include "barge/util/error.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <sqlite3.h>
#include <string>

using namespace barge;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void spill(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A session that writes n pairs (each adds rows to a few pages), as a command does.
// keys: an encrypted catalog's.
void write_pairs(const std::string& db, int from, int n,
                 std::shared_ptr<const DriveKeys> keys = nullptr) {
    Catalog c = Catalog::open(db, Catalog::Check::pages, std::move(keys));
    c.track_pages();
    for (int i = from; i < from + n; ++i) {
        c.add_pair({.name = "pair-" + std::to_string(i),
                    .source = "/source/" + std::string(200, 'x') + std::to_string(i),
                    .dest = "/dest/" + std::to_string(i)},
                   "uuid-" + std::to_string(i));
    }
    c.seal_pages();
}

ReplicaUpdate update(const std::string& db, const std::string& copy,
                     std::shared_ptr<const DriveKeys> keys = nullptr) {
    Catalog c = Catalog::open(db, Catalog::Check::pages, std::move(keys));
    return c.update_copy(copy);
}

} // namespace

TEST(Replica, FirstCopyIsWholeThenOnlyChangedPages) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 400); // many pages
    ReplicaUpdate first = update(db, copy);
    EXPECT_TRUE(first.whole);
    EXPECT_EQ(slurp(copy), slurp(db));

    write_pairs(db, 400, 1); // a small change
    ReplicaUpdate second = update(db, copy);
    EXPECT_FALSE(second.whole);
    EXPECT_GT(second.pages, 0u);
    uint64_t total = std::filesystem::file_size(db) / 4096;
    EXPECT_LT(second.pages * 4, total) << "an update copies the changed pages, not the catalog";
    EXPECT_EQ(slurp(copy), slurp(db));
    EXPECT_FALSE(std::filesystem::exists(copy + ".patch"));

    // Nothing written since: nothing copied.
    ReplicaUpdate third = update(db, copy);
    EXPECT_EQ(third.pages, 0u);
    EXPECT_EQ(slurp(copy), slurp(db));
    // And the copy opens as a catalog.
    Catalog c = Catalog::open(copy, Catalog::Check::full);
    EXPECT_TRUE(c.find_pair("pair-400").has_value());
}

TEST(Replica, CopyBehindByManyStepsCatchesUp) {
    TestDir dir;
    std::string db = dir / "barge.db", a = dir / "a.db", b = dir / "b.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 300);
    update(db, a);
    update(db, b);
    for (int step = 0; step < 5; ++step) {
        write_pairs(db, 300 + step, 1);
        update(db, a); // a follows every step, b only at the end
    }
    EXPECT_FALSE(update(db, b).whole);
    EXPECT_EQ(slurp(a), slurp(db));
    EXPECT_EQ(slurp(b), slurp(db));
}

TEST(Replica, CatalogChangedBehindTheMapGivesAWholeCopy) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 200);
    update(db, copy);
    // Written without tracking (another program, a restored image): the map no
    // longer describes the file and must not be trusted.
    {
        Catalog c = Catalog::open(db);
        c.add_pair({.name = "untracked", .source = "/s", .dest = "/d"}, "u");
    }
    ReplicaUpdate u = update(db, copy);
    EXPECT_TRUE(u.whole);
    EXPECT_EQ(slurp(copy), slurp(db));
}

TEST(Replica, CopyEditedAtTheEndpointGivesAWholeCopy) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 200);
    update(db, copy);
    std::string bytes = slurp(copy);
    bytes.resize(bytes.size() - 4096); // truncated: its size no longer matches its state
    spill(copy, bytes);
    write_pairs(db, 200, 1);
    EXPECT_TRUE(update(db, copy).whole);
    EXPECT_EQ(slurp(copy), slurp(db));
}

TEST(Replica, TornPatchIsDiscardedAndTheCopyKept) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 100);
    update(db, copy);
    std::string before = slurp(copy);
    spill(copy + ".patch", "BRGPATC1 but then the power went");
    settle_replica(copy);
    EXPECT_FALSE(std::filesystem::exists(copy + ".patch"));
    EXPECT_EQ(slurp(copy), before);
    write_pairs(db, 100, 1);
    EXPECT_FALSE(update(db, copy).whole);
    EXPECT_EQ(slurp(copy), slurp(db));
}

// A patch of the copy's own step (its removal failed after it was applied, then
// the copy moved on): the copy is past it, and it must not be applied again. It
// once was, page 1 here overwritten with the patch's, the copy a mix of states
// that recover installed.
TEST(Replica, PatchLeftBehindIsNeverAppliedToACopyPastIt) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 100);
    update(db, copy);
    std::string before = slurp(copy);
    unsigned long long epoch = 0, step = 0, id = 0;
    long long size = 0;
    ASSERT_EQ(std::sscanf(slurp(replica_state_path(copy)).c_str(),
                          "barge-replica 2 epoch %llx step %llu id %llx size %lld", &epoch, &step,
                          &id, &size),
              4);
    for (unsigned long long target : {step, step - 1}) {
        // The patch format (replica.cpp): header, (page number, page)..., BLAKE2b.
        std::string patch("BRGPATC2", 8);
        for (uint64_t v : {uint64_t{epoch}, uint64_t{target}, uint64_t{id}, uint64_t(size)}) {
            for (int b = 0; b < 8; ++b) {
                patch.push_back(static_cast<char>(v >> (8 * b)));
            }
        }
        for (uint32_t v : {4096u, 1u}) {
            for (int b = 0; b < 4; ++b) {
                patch.push_back(static_cast<char>(v >> (8 * b)));
            }
        }
        patch += std::string("\x01\0\0\0\0\0\0\0", 8) + std::string(4096, 'z');
        Blake2b sum;
        sum.update(patch);
        Digest d = sum.final();
        patch.append(reinterpret_cast<const char*>(d.data()), d.size());
        spill(copy + ".patch", patch);
        settle_replica(copy);
        EXPECT_FALSE(std::filesystem::exists(copy + ".patch"));
        EXPECT_EQ(slurp(copy), before)
            << "a patch to step " << target << " was applied at step " << step;
    }
    write_pairs(db, 100, 1);
    update(db, copy);
    EXPECT_EQ(slurp(copy), slurp(db));
}

TEST(Replica, PartlyAppliedPagesAreWrittenAgain) {
    // A crash while the patch was being applied leaves some new pages in the copy and
    // its state at the old step: the next update copies every page since that step.
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 200);
    update(db, copy);
    std::string old_copy = slurp(copy), old_state = slurp(replica_state_path(copy));
    write_pairs(db, 200, 3);
    std::string fresh = slurp(db);
    ASSERT_EQ(fresh.size(), old_copy.size()) << "the test wants pages changed in place";
    std::string half = old_copy;
    size_t changed = 0;
    for (size_t off = 0; off < half.size(); off += 4096) {
        if (half.compare(off, 4096, fresh, off, 4096) != 0 && changed++ % 2 == 0) {
            half.replace(off, 4096, fresh, off, 4096);
        }
    }
    ASSERT_GT(changed, 1u);
    spill(copy, half);
    spill(replica_state_path(copy), old_state);
    EXPECT_FALSE(update(db, copy).whole);
    EXPECT_EQ(slurp(copy), slurp(db));
}

TEST(Replica, DamagedPageIsNeverCopied) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 200);
    update(db, copy);
    std::string good_copy = slurp(copy);
    std::string bytes = slurp(db);
    bytes[5 * 4096 + 100] ^= 0x40; // a page no command reads at open
    spill(db, bytes);               // untracked: the next copy is whole
    EXPECT_THROW(update(db, copy), CatalogError);
    EXPECT_EQ(slurp(copy), good_copy) << "a damaged page replaced a good copy";
    EXPECT_FALSE(std::filesystem::exists(copy + ".tmp"));
}

TEST(Replica, CopyFromAnotherHistoryOfTheCatalogIsMadeWhole) {
    // An image of the drive (catalog and map together) restored after its copy at an
    // endpoint moved on, then written as often: the same step numbers, another
    // history. The copy must never receive this history's pages on top of its own.
    namespace fs = std::filesystem;
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    std::string map = PageMap::path_for(db);
    { Catalog c = Catalog::create(db, 4096, "d"); }
    write_pairs(db, 0, 200);
    update(db, copy);
    fs::copy_file(db, dir / "image.db");
    fs::copy_file(map, dir / "image.pages");
    auto image_time = fs::last_write_time(db);
    for (int i = 0; i < 3; ++i) {
        write_pairs(db, 200 + i, 1); // the first history
    }
    update(db, copy);
    fs::copy_file(dir / "image.db", db, fs::copy_options::overwrite_existing);
    fs::copy_file(dir / "image.pages", map, fs::copy_options::overwrite_existing);
    fs::last_write_time(db, image_time);
    for (int i = 0; i < 4; ++i) {
        write_pairs(db, 300 + i, 1); // the second: as many steps, and one more
    }
    ReplicaUpdate u = update(db, copy);
    EXPECT_TRUE(u.whole) << "a copy of another history was patched";
    EXPECT_EQ(slurp(copy), slurp(db));
}

namespace {
std::shared_ptr<const DriveKeys> test_keys() {
    static auto keys = DriveKeys::derive(SecretKey::random(), "enc-drive");
    return keys;
}
} // namespace

// An encrypted catalog's copies are incremental too (the page map knows its pages
// without a plain header), stay sealed, and open with the key.
TEST(Replica, EncryptedCatalogCopiesOnlyChangedPages) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "enc-drive", test_keys()); }
    write_pairs(db, 0, 400, test_keys());
    EXPECT_TRUE(update(db, copy, test_keys()).whole);
    write_pairs(db, 400, 1, test_keys());
    ReplicaUpdate second = update(db, copy, test_keys());
    EXPECT_FALSE(second.whole) << "an encrypted catalog's copy was made whole again";
    EXPECT_LT(second.pages * 4, std::filesystem::file_size(db) / 4096);
    EXPECT_EQ(slurp(copy), slurp(db));
    EXPECT_EQ(slurp(copy).find("pair-400"), std::string::npos) << "the copy is not sealed";
    Catalog c = Catalog::open(copy, Catalog::Check::full, test_keys());
    EXPECT_TRUE(c.find_pair("pair-400").has_value());
}

// A page that does not authenticate never reaches an endpoint copy.
TEST(Replica, EncryptedDamagedPageIsNeverCopied) {
    TestDir dir;
    std::string db = dir / "barge.db", copy = dir / "copy.db";
    { Catalog c = Catalog::create(db, 4096, "enc-drive", test_keys()); }
    write_pairs(db, 0, 200, test_keys());
    update(db, copy, test_keys());
    std::string good_copy = slurp(copy);
    std::string bytes = slurp(db);
    bytes[5 * 4096 + 100] ^= 0x40;
    spill(db, bytes);
    EXPECT_THROW(update(db, copy, test_keys()), CatalogError);
    EXPECT_EQ(slurp(copy), good_copy) << "a page that does not authenticate replaced a good copy";
}

namespace {

// In a child process with SQLite's lock bytes moved from 1 GiB to 64 KiB (page 17
// of 4096-byte pages; SQLite reads the offset from a global, and so does barge):
// a catalog of more pages than that is made, copied whole and then patched. 0 when
// every copy is the catalog and opens, else which step failed.
int copy_past_lock_page(const std::string& dir, std::shared_ptr<const DriveKeys> keys) {
    try {
        sqlite3_test_control(SQLITE_TESTCTRL_PENDING_BYTE, 0x10000u);
        if (lock_byte_page(4096) != 17) {
            return 2;
        }
        std::string db = dir + "/barge.db", copy = dir + "/copy.db";
        { Catalog c = Catalog::create(db, 4096, "enc-drive", keys); }
        write_pairs(db, 0, 400, keys);
        if (std::filesystem::file_size(db) < 40 * 4096) {
            return 3; // the test would prove nothing
        }
        if (!update(db, copy, keys).whole || slurp(copy) != slurp(db)) {
            return 4;
        }
        write_pairs(db, 400, 1, keys);
        if (update(db, copy, keys).whole || slurp(copy) != slurp(db)) {
            return 5;
        }
        Catalog c = Catalog::open(copy, Catalog::Check::full, keys);
        return c.find_pair("pair-400").has_value() ? 0 : 6;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
}

} // namespace

// SQLite never writes the page of its lock bytes (1 GiB into the file): a catalog
// past that size (about four million files) has a page there with no checksum.
// Its endpoint copies were refused as damaged ("page 262145 fails its checksum")
// at ten million files; the page is copied as it is, every other page checked.
TEST(Replica, CatalogPastTheLockBytePageIsCopied) {
    TestDir dir;
    EXPECT_EXIT(std::_Exit(copy_past_lock_page(dir.path(), nullptr)), testing::ExitedWithCode(0), "");
}

TEST(Replica, EncryptedCatalogPastTheLockBytePageIsCopied) {
    TestDir dir;
    EXPECT_EXIT(std::_Exit(copy_past_lock_page(dir.path(), test_keys())), testing::ExitedWithCode(0), "");
}
