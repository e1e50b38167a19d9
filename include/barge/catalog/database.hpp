#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace barge {

class Statement;

// Global SQLite settings, once, before SQLite first initializes (every path that
// opens a database or registers a VFS calls it first).
void configure_sqlite();

// The SQLite "file:" URI of path with the query parameters params ("a=1&b=2").
std::string sqlite_file_uri(std::string_view path, std::string_view params);

// An open SQLite connection. Errors become CatalogError naming the database.
class Database {
public:
    // Opens (creating when create == Create::yes) the database file at path.
    enum class Create { yes, no };
    Database(const std::string& path, Create create);
    // Opens path as an SQLite URI carrying the query parameters uri_params, through the
    // VFS named vfs (see catalog/vfs.hpp). ATTACH and VACUUM INTO then take URIs too.
    Database(const std::string& path, Create create, const char* vfs, std::string_view uri_params);
    ~Database();
    Database(Database&&) noexcept;
    Database& operator=(Database&&) noexcept;

    // Runs one or more statements that return no rows.
    void exec(std::string_view sql);
    // A prepared statement on this connection. Statements are cached by their SQL:
    // one that is not in use is reset and handed out again instead of being
    // compiled anew (barge runs the same few queries for every file).
    Statement prepare(std::string_view sql);
    // The single integer the query returns (0 when no row).
    int64_t query_int(std::string_view sql);
    int64_t last_insert_rowid() const;
    // Whether a transaction is open on this connection.
    bool in_transaction() const;
    int changes() const;
    const std::string& path() const { return m_path; }
    sqlite3* handle() const { return m_db.get(); }
    // Throws CatalogError for an SQLite result code, with the connection's message.
    [[noreturn]] void fail(int rc, std::string_view context) const;

    // Whether SQLite has read a page that fails its check (catalog/vfs.hpp) on this
    // connection. From then on nothing more is written: every later write (a COMMIT,
    // or a write outside a transaction) throws CatalogError instead, so a damaged
    // catalog is never built upon, and what happened is for the user to see.
    bool damaged() const { return m_damaged; }
    // Found damaged by another reader of the file (a page copied to an endpoint).
    void mark_damaged() { m_damaged = true; }
    // Throws when damaged(); called before every write commits.
    void guard_write();
    // Appended to the error when a page fails its check: what the user can do.
    void set_damage_hint(std::string hint) { m_damage_hint = std::move(hint); }
    // Work to do once, with the first write of this connection: in_txn runs just
    // before that write commits (inside its transaction, so a rolled-back
    // transaction takes it along), after_commit once it has committed. Used to
    // bump the drive's generation only by runs that change something.
    void set_first_write(std::function<void()> in_txn, std::function<void()> after_commit);
    // Called after each COMMIT: runs a pending after_commit.
    void committed();
    // The virtual machine steps (SQLITE_STMTSTATUS_VM_STEP) of every statement
    // given back so far: how much a piece of work read, for the tests that tell
    // reading an index range from reading every row of a pair. A statement
    // counts when it is given back, so one a store keeps for its lifetime
    // counts only when the store goes.
    uint64_t vm_steps() const { return m_vm_steps; }

private:
    struct Closer {
        void operator()(sqlite3* db) const;
    };
    friend class Statement;
    // Takes back a statement that is done with: kept for the next prepare() of the
    // same SQL, or finalized when that SQL already has one waiting.
    void give_back(sqlite3_stmt* stmt) noexcept;
    void drop_cache() noexcept;
    void open(const char* filename, int flags, const char* vfs);

    std::unique_ptr<sqlite3, Closer> m_db;
    std::string m_path;
    mutable bool m_damaged = false;
    std::string m_damage_hint;
    std::function<void()> m_first_write, m_after_first, m_after_pending;
    std::unordered_map<std::string, sqlite3_stmt*> m_cache;
    uint64_t m_vm_steps = 0;
};

// A prepared statement, finalized by its owner. Bind indexes start at 1.
class Statement {
public:
    Statement(Database& db, sqlite3_stmt* stmt);
    ~Statement();
    Statement(Statement&&) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;

    Statement& bind(int index, int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
    Statement& bind(int index, uint64_t value) { return bind(index, static_cast<int64_t>(value)); }
    Statement& bind(int index, double value);
    // Binds text (UTF-8 text columns such as names and settings).
    Statement& bind_text(int index, std::string_view value);
    // Binds raw bytes (paths, hashes).
    Statement& bind_blob(int index, std::string_view value);
    Statement& bind_null(int index);
    // Binds value, or NULL when it is empty.
    Statement& bind(int index, std::optional<int64_t> value);

    // Advances; true while a row is available.
    bool step();
    // Steps a statement that returns no rows, then resets it for reuse.
    void run();
    // Clears bindings and rewinds for reuse.
    void reset();

    bool is_null(int column) const;
    int64_t column_int(int column) const;
    double column_double(int column) const;
    std::string column_text(int column) const;
    std::string column_blob(int column) const;
    std::optional<int64_t> column_optional_int(int column) const;

private:
    Database* m_db;
    sqlite3_stmt* m_stmt;
};

// BEGIN IMMEDIATE on construction; rolls back in the destructor unless commit() ran.
// Inside another transaction it is a savepoint instead: its commit() only
// releases it, and the outer transaction decides (a dry run rolls everything back).
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& m_db;
    bool m_nested = false;
    bool m_done = false;
};

// The key/value table `meta` that the catalog and the order record both have.
std::optional<std::string> read_meta(Database& db, const std::string& key);
void write_meta(Database& db, const std::string& key, const std::string& value);
void drop_meta(Database& db, const std::string& key);

} // namespace barge
