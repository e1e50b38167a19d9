#include "barge/catalog/database.hpp"

#include "barge/catalog/vfs.hpp"
#include "barge/util/error.hpp"

#include <fmt/format.h>
#include <mutex>
#include <sqlite3.h>

namespace barge {

void Database::Closer::operator()(sqlite3* db) const {
    sqlite3_close_v2(db);
}

std::string sqlite_file_uri(std::string_view path, std::string_view params) {
    // "file://" + "/abs" keeps a path that starts with "//" from reading as an authority.
    std::string uri = !path.empty() && path[0] == '/' ? "file://" : "file:";
    for (char c : path) {
        auto u = static_cast<unsigned char>(c);
        if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
            c == '/' || c == '.' || c == '-' || c == '_' || c == '~') {
            uri += c;
        } else {
            uri += fmt::format("%{:02x}", u); // '?', '#', '%' and any other byte
        }
    }
    if (!params.empty()) {
        uri += '?';
        uri += params;
    }
    return uri;
}

Database::Database(const std::string& path, Create create) : m_path(path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create == Create::yes) {
        flags |= SQLITE_OPEN_CREATE;
    }
    open(path.c_str(), flags, nullptr);
}

Database::Database(const std::string& path, Create create, const char* vfs,
                   std::string_view uri_params)
    : m_path(path) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    if (create == Create::yes) {
        flags |= SQLITE_OPEN_CREATE;
    }
    open(sqlite_file_uri(path, uri_params).c_str(), flags, vfs);
}

void configure_sqlite() {
    static std::once_flag once;
    std::call_once(once, [] {
        // No memory statistics: with them every allocation SQLite makes takes a global
        // mutex (7 % of a first scan's CPU). Only possible before SQLite initializes:
        // if something initialized it already, it keeps its defaults.
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    });
}

void Database::open(const char* filename, int flags, const char* vfs) {
    configure_sqlite();
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(filename, &db, flags, vfs);
    m_db.reset(db);
    if (rc != SQLITE_OK) {
        fail(rc, "open");
    }
    sqlite3_extended_result_codes(db, 1);
}

Database::~Database() {
    drop_cache();
}

Database::Database(Database&& other) noexcept
    : m_db(std::move(other.m_db)), m_path(std::move(other.m_path)),
      m_damaged(other.m_damaged), m_damage_hint(std::move(other.m_damage_hint)),
      m_first_write(std::move(other.m_first_write)),
      m_after_first(std::move(other.m_after_first)),
      m_after_pending(std::move(other.m_after_pending)), m_cache(std::move(other.m_cache)),
      m_vm_steps(other.m_vm_steps) {
    other.m_cache.clear();
}

Database& Database::operator=(Database&& other) noexcept {
    if (this != &other) {
        drop_cache();
        m_db = std::move(other.m_db);
        m_path = std::move(other.m_path);
        m_damaged = other.m_damaged;
        m_damage_hint = std::move(other.m_damage_hint);
        m_first_write = std::move(other.m_first_write);
        m_after_first = std::move(other.m_after_first);
        m_after_pending = std::move(other.m_after_pending);
        m_cache = std::move(other.m_cache);
        other.m_cache.clear();
        m_vm_steps = other.m_vm_steps;
    }
    return *this;
}

void Database::drop_cache() noexcept {
    for (auto& [sql, stmt] : m_cache) {
        sqlite3_finalize(stmt);
    }
    m_cache.clear();
}

void Database::give_back(sqlite3_stmt* stmt) noexcept {
    m_vm_steps += static_cast<uint64_t>(sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, 1));
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    try {
        auto [it, inserted] = m_cache.try_emplace(sqlite3_sql(stmt), stmt);
        if (inserted) {
            return;
        }
    } catch (...) { // out of memory: just do not cache it
    }
    sqlite3_finalize(stmt);
}

void Database::fail(int rc, std::string_view context) const {
    // A page the VFS shim refused (a checksum that does not match): SQLite itself
    // only says "disk I/O error".
    if (auto page = take_page_failure()) {
        m_damaged = true;
        throw CatalogError(
            fmt::format("catalog '{}' is corrupt: {} ({}){}", m_path, *page, context, m_damage_hint));
    }
    const char* msg = m_db ? sqlite3_errmsg(m_db.get()) : sqlite3_errstr(rc);
    throw CatalogError(fmt::format("catalog '{}': {}: {}", m_path, context, msg));
}

void Database::exec(std::string_view sql) {
    std::string s(sql);
    char* err = nullptr;
    int rc = sqlite3_exec(m_db.get(), s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        if (auto page = take_page_failure()) {
            m_damaged = true;
            throw CatalogError(fmt::format("catalog '{}' is corrupt: {}{}", m_path, *page, m_damage_hint));
        }
        throw CatalogError(fmt::format("catalog '{}': {}", m_path, msg));
    }
}

Statement Database::prepare(std::string_view sql) {
    if (auto it = m_cache.find(std::string(sql)); it != m_cache.end()) {
        sqlite3_stmt* cached = it->second;
        m_cache.erase(it); // in use now: a nested prepare of the same SQL compiles its own
        return Statement(*this, cached);
    }
    sqlite3_stmt* stmt = nullptr;
    int rc =
        sqlite3_prepare_v2(m_db.get(), sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        fail(rc, fmt::format("prepare '{}'", sql.substr(0, 60)));
    }
    return Statement(*this, stmt);
}

int64_t Database::query_int(std::string_view sql) {
    Statement st = prepare(sql);
    return st.step() ? st.column_int(0) : 0;
}

void Database::guard_write() {
    if (m_damaged) {
        throw CatalogError(fmt::format("catalog '{}' is corrupt: nothing more is written to it",
                                       m_path));
    }
    if (m_first_write) {
        auto in_txn = std::move(m_first_write);
        m_first_write = nullptr; // its own writes come back here
        m_after_pending = std::move(m_after_first);
        m_after_first = nullptr;
        in_txn();
        if (sqlite3_get_autocommit(m_db.get())) {
            committed(); // in_txn's write committed on its own
        }
    }
}

void Database::set_first_write(std::function<void()> in_txn, std::function<void()> after_commit) {
    m_first_write = std::move(in_txn);
    m_after_first = std::move(after_commit);
    m_after_pending = nullptr;
}

void Database::committed() {
    if (m_after_pending) {
        auto f = std::move(m_after_pending);
        m_after_pending = nullptr;
        f();
    }
}

int64_t Database::last_insert_rowid() const {
    return sqlite3_last_insert_rowid(m_db.get());
}

bool Database::in_transaction() const {
    return sqlite3_get_autocommit(m_db.get()) == 0;
}

int Database::changes() const {
    return sqlite3_changes(m_db.get());
}

Statement::Statement(Database& db, sqlite3_stmt* stmt) : m_db(&db), m_stmt(stmt) {}

Statement::~Statement() {
    if (m_stmt) {
        m_db->give_back(m_stmt);
    }
}

Statement::Statement(Statement&& other) noexcept : m_db(other.m_db), m_stmt(other.m_stmt) {
    other.m_stmt = nullptr;
}

Statement& Statement::bind(int index, int64_t value) {
    int rc = sqlite3_bind_int64(m_stmt, index, value);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "bind");
    }
    return *this;
}

Statement& Statement::bind(int index, double value) {
    int rc = sqlite3_bind_double(m_stmt, index, value);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "bind");
    }
    return *this;
}

Statement& Statement::bind_text(int index, std::string_view value) {
    int rc = sqlite3_bind_text64(m_stmt, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                 SQLITE_UTF8);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "bind");
    }
    return *this;
}

Statement& Statement::bind_blob(int index, std::string_view value) {
    // A zero-length blob, not NULL: the empty path is the root.
    int rc = sqlite3_bind_blob64(m_stmt, index, value.empty() ? "" : value.data(), value.size(),
                                 SQLITE_TRANSIENT);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "bind");
    }
    return *this;
}

Statement& Statement::bind_null(int index) {
    int rc = sqlite3_bind_null(m_stmt, index);
    if (rc != SQLITE_OK) {
        m_db->fail(rc, "bind");
    }
    return *this;
}

Statement& Statement::bind(int index, std::optional<int64_t> value) {
    return value ? bind(index, *value) : bind_null(index);
}

bool Statement::step() {
    // A write outside a transaction commits at once: it must wait for the guard.
    if (!sqlite3_stmt_readonly(m_stmt) && sqlite3_get_autocommit(m_db->handle())) {
        m_db->guard_write();
    }
    int rc = sqlite3_step(m_stmt);
    if (rc == SQLITE_ROW) {
        return true;
    }
    if (rc == SQLITE_DONE) {
        if (!sqlite3_stmt_readonly(m_stmt) && sqlite3_get_autocommit(m_db->handle())) {
            m_db->committed();
        }
        return false;
    }
    sqlite3_reset(m_stmt);
    m_db->fail(rc, fmt::format("step '{}'", std::string_view(sqlite3_sql(m_stmt)).substr(0, 60)));
}

void Statement::run() {
    step();
    reset();
}

void Statement::reset() {
    sqlite3_reset(m_stmt);
    sqlite3_clear_bindings(m_stmt);
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(m_stmt, column) == SQLITE_NULL;
}

int64_t Statement::column_int(int column) const {
    return sqlite3_column_int64(m_stmt, column);
}

double Statement::column_double(int column) const {
    return sqlite3_column_double(m_stmt, column);
}

std::string Statement::column_text(int column) const {
    const auto* p = sqlite3_column_text(m_stmt, column);
    int n = sqlite3_column_bytes(m_stmt, column);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n))
             : std::string();
}

std::string Statement::column_blob(int column) const {
    const void* p = sqlite3_column_blob(m_stmt, column);
    int n = sqlite3_column_bytes(m_stmt, column);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
}

std::optional<int64_t> Statement::column_optional_int(int column) const {
    if (is_null(column)) {
        return std::nullopt;
    }
    return column_int(column);
}

Transaction::Transaction(Database& db) : m_db(db), m_nested(db.in_transaction()) {
    // IMMEDIATE: take the write lock now, so a conflict shows at BEGIN, not mid-way.
    m_db.exec(m_nested ? "SAVEPOINT barge_nested" : "BEGIN IMMEDIATE");
}

Transaction::~Transaction() {
    if (!m_done) {
        try {
            m_db.exec(m_nested ? "ROLLBACK TO barge_nested; RELEASE barge_nested" : "ROLLBACK");
        } catch (const Error&) {
            // Destructors never throw; SQLite rolls back a failed transaction itself.
        }
    }
}

void Transaction::commit() {
    if (m_nested) {
        m_db.exec("RELEASE barge_nested"); // the outer transaction commits, or not
        m_done = true;
        return;
    }
    m_db.guard_write();
    m_db.exec("COMMIT");
    m_done = true;
    m_db.committed();
}

std::optional<std::string> read_meta(Database& db, const std::string& key) {
    Statement st = db.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind_text(1, key);
    if (!st.step()) {
        return std::nullopt;
    }
    return st.column_text(0);
}

void write_meta(Database& db, const std::string& key, const std::string& value) {
    db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind_text(1, key)
        .bind_text(2, value)
        .run();
}

void drop_meta(Database& db, const std::string& key) {
    db.prepare("DELETE FROM meta WHERE key = ?").bind_text(1, key).run();
}

} // namespace barge
