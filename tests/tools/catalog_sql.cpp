// barge-catalog-sql CATALOG SQL: runs SQL on a barge catalog through the page
// checksum shim, so that the pages it writes carry valid checksums. The e2e
// scenarios use it to play a hostile or hand-edited catalog (whoever edits the
// drive can recompute a checksum: the checksums are against damage, not malice).
// Rows are printed '|'-separated, one per line, like the sqlite3 shell's default.
#include "barge/catalog/database.hpp"
#include "barge/catalog/vfs.hpp"
#include "barge/util/error.hpp"

#include <cstdio>
#include <sqlite3.h>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: barge-catalog-sql CATALOG SQL\n");
        return 2;
    }
    try {
        barge::Database db = barge::open_protected(argv[1], barge::Database::Create::no,
                                                   barge::PageProtection::checksum());
        // Run every statement of the text in turn, printing the rows of each.
        const char* sql = argv[2];
        while (sql && *sql) {
            sqlite3_stmt* st = nullptr;
            const char* rest = nullptr;
            if (sqlite3_prepare_v2(db.handle(), sql, -1, &st, &rest) != SQLITE_OK) {
                std::fprintf(stderr, "barge-catalog-sql: %s\n", sqlite3_errmsg(db.handle()));
                return 1;
            }
            int rc = SQLITE_OK;
            while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
                for (int i = 0; i < sqlite3_column_count(st); ++i) {
                    const auto* text = sqlite3_column_text(st, i);
                    std::printf("%s%s", i ? "|" : "", text ? reinterpret_cast<const char*>(text) : "");
                }
                std::printf("\n");
            }
            if (st && rc != SQLITE_DONE) {
                std::fprintf(stderr, "barge-catalog-sql: %s\n", sqlite3_errmsg(db.handle()));
                sqlite3_finalize(st);
                return 1;
            }
            sqlite3_finalize(st);
            sql = rest;
        }
    } catch (const barge::Error& e) {
        std::fprintf(stderr, "barge-catalog-sql: %s\n", e.what());
        return 1;
    }
    return 0;
}
