// The cargo check at every load (check_cargo): pieces the catalog puts on the
// cargo that are missing or of the wrong size are queued again, files it does not
// hold as on the cargo are deleted, and nothing else is. On an encrypted drive the
// kept pieces' names are gathered a group of fan-out directories per pass over
// the pieces, so that memory stays bounded; however many passes that takes, the
// files left must be the same.
#include "../test_dir.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/hash/blake2b.hpp"

#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <gtest/gtest.h>
#include <set>
#include <string>
#include <vector>

using namespace barge;
namespace fs = std::filesystem;

namespace {

void write_file(const std::string& path, int64_t size) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << std::string(static_cast<size_t>(size), 'x');
}

// Every file under cargo/ but its tmp directory, relative to cargo/.
std::set<std::string> files_on_cargo(const DriveLayout& layout) {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(layout.cargo())) {
        std::string rel = fs::relative(e.path(), layout.cargo()).string();
        if (e.is_regular_file() && rel.rfind("tmp/", 0) != 0) {
            out.insert(rel);
        }
    }
    return out;
}

struct CheckResult {
    int64_t requeued = 0;
    std::set<std::string> left, expected;
    int64_t on_cargo = 0;
};

// A drive whose cargo holds 200 kept pieces, a missing one, one of the wrong
// size, a reclaimed piece's file and strays of every kind; checked with
// kept_per_pass.
CheckResult run_check(bool encrypted, int64_t kept_per_pass) {
    TestDir dir;
    DriveLayout layout{dir.path(), encrypted ? DriveKeys::derive(SecretKey::random(), "d") : nullptr};
    Catalog c = Catalog::create(layout.catalog(), 4096, "d");
    Cargo cargo(layout);
    CheckResult r;
    auto add_piece = [&](int i, bool on_cargo) {
        Digest h = blake2b(fmt::format("piece {}", i));
        int64_t size = 10 + i;
        c.db().exec(fmt::format("INSERT INTO pieces(hash, size, on_cargo) VALUES (x'{}', {}, {})", digest_hex(h),
                                size, on_cargo ? 1 : 0));
        return std::pair{h, cargo.stored_size(size)};
    };
    for (int i = 0; i < 200; ++i) {
        auto [h, stored] = add_piece(i, true);
        write_file(cargo.path(h), stored);
        r.expected.insert(cargo.relative_path(h));
    }
    add_piece(200, true); // missing
    auto [wrong, stored] = add_piece(201, true);
    write_file(cargo.path(wrong), stored + 1);
    auto [reclaimed, reclaimed_size] = add_piece(202, false);
    write_file(cargo.path(reclaimed), reclaimed_size);
    for (int i = 0; i < 40; ++i) { // an interrupted load's pieces, in their fan-out directories
        std::string hex = digest_hex(blake2b(fmt::format("stray {}", i)));
        write_file(layout.cargo() + "/" + hex.substr(0, 2) + "/" + hex, 20);
    }
    // A kept piece's name in another fan-out directory, a name that is not a
    // digest, and a directory that is not a fan-out.
    std::string kept = *r.expected.begin();
    std::string other = kept.substr(0, 2) == "00" ? "01" : "00";
    write_file(layout.cargo() + "/" + other + "/" + kept.substr(3), 20);
    write_file(layout.cargo() + "/" + kept.substr(0, 2) + "/notes.txt", 5);
    write_file(layout.cargo() + "/zz/" + kept.substr(3), 20);

    r.requeued = check_cargo(c, layout, kept_per_pass);
    r.left = files_on_cargo(layout);
    Statement st = c.db().prepare("SELECT count(*) FROM pieces WHERE on_cargo = 1");
    st.step();
    r.on_cargo = st.column_int(0);
    return r;
}

class CargoCheck : public ::testing::TestWithParam<bool> {};

TEST_P(CargoCheck, KeepsEveryKeptPieceAndOnlyThemInAnyNumberOfPasses) {
    bool encrypted = GetParam();
    // 1: a pass per fan-out directory (202 pieces counted, 256 groups at most);
    // 50: five passes; the default: one.
    for (int64_t per_pass : {int64_t{1}, int64_t{50}, kept_names_per_pass}) {
        SCOPED_TRACE(fmt::format("{} drive, {} names per pass", encrypted ? "encrypted" : "plain", per_pass));
        CheckResult r = run_check(encrypted, per_pass);
        EXPECT_EQ(r.requeued, 2) << "the missing piece and the one of the wrong size";
        EXPECT_EQ(r.on_cargo, 200);
        EXPECT_EQ(r.left.size(), r.expected.size());
        EXPECT_TRUE(r.left == r.expected) << "a kept piece was deleted or a stray was left";
    }
}

INSTANTIATE_TEST_SUITE_P(Drives, CargoCheck, ::testing::Bool(),
                         [](const auto& p) { return p.param ? "Encrypted" : "Plain"; });

} // namespace
