#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace barge {

class Database;

// The schema version this barge writes (PRAGMA user_version).
constexpr int schema_version = 11;

// One step of the schema's history: the SQL that brings version `to - 1` to `to`.
struct Migration {
    int to;
    std::string sql;
};

// Every step from an empty file to schema_version; step 1 creates the schema.
const std::vector<Migration>& migrations();

// Applies the steps above db's current version, each in its own transaction that
// also sets user_version. Before touching an existing catalog (version > 0),
// backup(from_version) is called to copy it. Throws CatalogError when the catalog
// is newer than the last step (exit 2: a newer barge wrote it).
void migrate(Database& db, const std::vector<Migration>& steps,
             const std::function<void(int from_version)>& backup);

// What the kept counts of version 7 (pair_undelivered) should hold, as the
// entries say: a SELECT of rows (pair_id, state, files, bytes), the state 0
// waiting, 1 on the cargo, 2 failed, 3 not hashed; in bounded memory.
std::string sql_undelivered_counted();
// What contents.here of the content named by r ("c.") should hold: the count of
// its pieces on the cargo.
std::string sql_here_counted(const std::string& r);

// Forgetting the contents and pieces noted loose (schema version 8) that nothing
// needs any more, in the order the statements run: what forget_unneeded runs,
// and, with every content and every piece off the cargo noted first (all()),
// the step to version 8 once. contents and pieces each delete the rows
// forgotten (their changes() are the counts).
struct ForgetSql {
    std::string note_all, prepare, contents, prepare_pieces, pieces, finish;
    std::string all() const;
};
const ForgetSql& sql_forget_unneeded();

// The objects in sqlite_schema of a catalog at schema_version: (type, name) -> a
// trigger's SQL (what it runs is checked too), "" for any other object.
using SchemaObjects = std::map<std::pair<std::string, std::string>, std::string>;
// Made by running every migration on an empty catalog in memory: about 20 ms,
// which every command paid when it opened the catalog until the build embedded them.
SchemaObjects schema_objects_migrated();
// The rows the build embedded (barge-schema-gen writes them, from
// schema_objects_migrated, into the generated schema_objects.cpp linked into
// barge and the unit tests); nullptr where a program was linked without them.
struct SchemaObjectRow {
    const char* type;
    const char* name;
    const char* sql;
};
const SchemaObjectRow* embedded_schema_objects(size_t& count);
// The embedded rows when there are some, else schema_objects_migrated().
SchemaObjects schema_objects_expected();

// Refuses a catalog whose schema holds objects barge did not create (a trigger or
// view planted on the drive could run SQL when barge writes): CatalogError.
void check_schema_objects(Database& db);

} // namespace barge
