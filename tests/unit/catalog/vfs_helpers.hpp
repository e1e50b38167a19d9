#pragma once
// Shared by the VFS shim's tests: a database in a temporary directory, opened through
// the shim in either mode, and raw access to its file.

#include "../test_dir.hpp"
#include "barge/catalog/vfs.hpp"
#include "barge/util/fd.hpp"

#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <sstream>
#include <string>
#include <unistd.h>

namespace vfs_test {

enum class Mode { checksum, encrypted };

inline std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
    return info.param == Mode::checksum ? "checksum" : "encrypted";
}

inline std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void put(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline bool contains(const std::string& path, const std::string& needle) {
    return slurp(path).find(needle) != std::string::npos;
}

inline bool exists(const std::string& path) {
    return ::access(path.c_str(), F_OK) == 0;
}

// The settings barge's catalog uses (docs/catalog.md) that matter to the shim.
inline void configure(barge::Database& db) {
    db.exec("PRAGMA journal_mode = DELETE");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA temp_store = MEMORY");
}

// Reads every page; throws CatalogError when one is refused.
inline std::string integrity(barge::Database& db) {
    barge::Statement st = db.prepare("PRAGMA integrity_check");
    std::string out;
    while (st.step()) {
        out += st.column_text(0);
    }
    return out;
}

class VfsTest : public ::testing::TestWithParam<Mode> {
protected:
    TestDir dir;
    std::string path = dir / "barge.db";
    barge::SecretKey key = barge::SecretKey::random();

    bool encrypted() const { return GetParam() == Mode::encrypted; }
    barge::PageProtection protection(std::string_view drive_id = "drive-A") const {
        if (!encrypted()) {
            return barge::PageProtection::checksum();
        }
        return barge::PageProtection::encrypted(barge::SecretKey::from_bytes(key.bytes()),
                                                drive_id);
    }
    barge::Database open(barge::Database::Create create = barge::Database::Create::no,
                         const std::string& at = "") const {
        barge::PageProtection p = protection();
        barge::Database db = barge::open_protected(at.empty() ? path : at, create, p);
        configure(db);
        if (create == barge::Database::Create::yes) {
            barge::prepare_protected(db, p);
        }
        return db;
    }
    // A table t(id, b) of n rows of 100 random-looking bytes each.
    void make(int n, const std::string& at = "") const {
        barge::Database db = open(barge::Database::Create::yes, at);
        db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)");
        db.exec("BEGIN");
        db.exec("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " +
                std::to_string(n) + ") INSERT INTO t SELECT i, randomblob(100) FROM c");
        db.exec("COMMIT");
    }
};

} // namespace vfs_test
