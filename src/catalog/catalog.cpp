#include "barge/catalog/catalog.hpp"

#include "barge/catalog/schema.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace barge {

namespace {

const char* on_delete_text(OnDelete d) {
    return d == OnDelete::trash ? "trash" : "keep";
}

// Copies the live catalog with SQLite's backup API (consistent even mid-journal,
// unlike cp) to dest_path, which must not exist.
void backup_database(Database& db, const std::string& dest_path) {
    Database dest(dest_path, Database::Create::yes);
    sqlite3_backup* b = sqlite3_backup_init(dest.handle(), "main", db.handle(), "main");
    if (!b) {
        dest.fail(sqlite3_errcode(dest.handle()), "backup");
    }
    int rc = sqlite3_backup_step(b, -1);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        db.fail(rc, "backup to '" + dest_path + "'");
    }
}

} // namespace

// quick_check on its own connection and thread. It reads every page and checks
// the b-tree structure (not index contents against tables): O(size).
struct Catalog::IntegrityCheck {
    std::string path;
    std::thread thread;
    std::string error; // set by the thread; read after join
    bool joined = false;

    static std::string run(const std::string& path) {
        try {
            Database db(path, Database::Create::no);
            Statement check = db.prepare("PRAGMA quick_check");
            while (check.step()) {
                std::string r = check.column_text(0);
                if (r != "ok") {
                    return fmt::format("catalog '{}' is corrupt: {}", path, r);
                }
            }
        } catch (const Error& e) {
            return fmt::format("catalog '{}' is corrupt: {}", path, e.what());
        }
        return "";
    }
    void start() {
        thread = std::thread([this] { error = run(path); });
    }
    void join() {
        if (!joined) {
            thread.join();
            joined = true;
        }
        if (!error.empty()) {
            throw CatalogError(error);
        }
    }
    ~IntegrityCheck() {
        if (!joined && thread.joinable()) {
            thread.join();
        }
    }
};

Catalog::Catalog(Database db) : m_db(std::move(db)) {}

void Catalog::configure() {
    // The catalog lives on a removable drive that may be unplugged or lose power
    // at any moment, and must be one self-contained file whenever it is not in use.
    // Each choice is explained in docs/catalog.md.
    sqlite3_db_config(m_db.handle(), SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(m_db.handle(), SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    m_db.exec("PRAGMA journal_mode = DELETE");
    m_db.exec("PRAGMA synchronous = FULL");
    m_db.exec("PRAGMA foreign_keys = ON");
    m_db.exec("PRAGMA cell_size_check = ON");
    m_db.exec("PRAGMA temp_store = MEMORY");
    m_db.exec("PRAGMA cache_size = -65536");
    m_db.exec("PRAGMA busy_timeout = 5000");
}

Catalog Catalog::create(const std::string& path, uint64_t piece_size,
                        const std::string& drive_id) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        throw Refusal(fmt::format("'{}' already exists: this directory is already a drive", path));
    }
    Catalog cat{Database(path, Database::Create::yes)};
    cat.configure();
    migrate(cat.m_db, migrations(), [](int) {});
    Transaction tx(cat.m_db);
    cat.set_meta("drive_id", drive_id);
    cat.set_meta("piece_size", std::to_string(piece_size));
    cat.set_meta("created_ns", std::to_string(now_ns()));
    cat.set_meta("created_by", std::string("barge ") + BARGE_VERSION);
    cat.set_meta("generation", "0");
    tx.commit();
    return cat;
}

namespace {
// What to do about a damaged catalog, appended to every such error.
std::string with_recover_hint(const std::string& what, const std::string& path) {
    if (what.find("barge recover") != std::string::npos) {
        return what;
    }
    std::string drive = path.substr(0, path.rfind('/'));
    return what + fmt::format(". If the drive's catalog is damaged, rebuild it from the newest "
                              "copy at a pair's source or destination: 'barge -d {} recover "
                              "ROOT...' (docs/recovery.md)",
                              drive.empty() ? "." : drive);
}
} // namespace

Catalog Catalog::open(const std::string& path, Check check) {
    try {
        return open_checked(path, check);
    } catch (const CatalogError& e) {
        if (e.code() == ExitCode::refused) {
            throw; // a newer barge's catalog: not damaged
        }
        throw CatalogError(with_recover_hint(e.what(), path), e.code());
    }
}

void Catalog::wait_checked() {
    if (m_check) {
        try {
            m_check->join();
        } catch (const CatalogError& e) {
            throw CatalogError(with_recover_hint(e.what(), m_db.path()), e.code());
        }
    }
}

Catalog Catalog::open_checked(const std::string& path, Check check) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        throw_errno("open catalog", path);
    }
    Catalog cat{Database(path, Database::Create::no)};
    cat.configure();
    // Reading the version is the first read: SQLite rolls back a hot journal left
    // by an interrupted run here, before any other connection looks at the file.
    int version = static_cast<int>(cat.m_db.query_int("PRAGMA user_version"));
    if (version > schema_version) {
        throw CatalogError(fmt::format("catalog '{}' was written by a newer barge (schema version "
                                       "{}; this barge knows up to {}): upgrade barge",
                                       path, version, schema_version),
                           ExitCode::refused);
    }
    if (version == 0) {
        throw CatalogError(fmt::format("'{}' is not a barge catalog (no schema version)", path));
    }
    bool migrating = version < schema_version;
    auto integrity = std::make_shared<IntegrityCheck>();
    integrity->path = path;
    if (check == Check::now || migrating) {
        integrity->joined = true;
        integrity->error = IntegrityCheck::run(path);
        integrity->join();
    } else {
        integrity->start();
        cat.m_db.set_write_guard([integrity, path] {
            try {
                integrity->join();
            } catch (const CatalogError& e) {
                throw CatalogError(with_recover_hint(e.what(), path), e.code());
            }
        });
    }
    cat.m_check = integrity;
    migrate(cat.m_db, migrations(), [&](int from) {
        backup_database(cat.m_db, fmt::format("{}.v{}-{}.bak", path, from, utc_stamp(now_ns())));
    });
    check_schema_objects(cat.m_db);
    return cat;
}

std::optional<std::string> Catalog::meta(const std::string& key) {
    Statement st = m_db.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind_text(1, key);
    if (!st.step()) {
        return std::nullopt;
    }
    return st.column_text(0);
}

void Catalog::set_meta(const std::string& key, const std::string& value) {
    Statement st = m_db.prepare("INSERT INTO meta(key, value) VALUES (?, ?) "
                                "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    st.bind_text(1, key).bind_text(2, value).run();
}

uint64_t Catalog::piece_size() {
    auto v = meta("piece_size");
    if (!v) {
        throw CatalogError(fmt::format("catalog '{}' has no piece size", m_db.path()));
    }
    uint64_t n = std::stoull(*v);
    if (n == 0) {
        throw CatalogError(fmt::format("catalog '{}' has a piece size of 0", m_db.path()));
    }
    return n;
}

std::string Catalog::drive_id() {
    return meta("drive_id").value_or("");
}

int64_t Catalog::generation() {
    return std::stoll(meta("generation").value_or("0"));
}

void Catalog::backup_to(const std::string& path) {
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    ::unlink((tmp + "-journal").c_str());
    try {
        backup_database(m_db, tmp); // synchronous=FULL default: synced at its commit
    } catch (...) {
        ::unlink(tmp.c_str());
        throw;
    }
    rename_into_place(tmp, path);
}

int64_t Catalog::bump_generation() {
    int64_t g = generation() + 1;
    set_meta("generation", std::to_string(g));
    return g;
}

Pair Catalog::add_pair(const PairSettings& s, const std::string& uuid) {
    if (find_pair(s.name)) {
        throw Refusal(fmt::format("a pair named '{}' already exists on this drive", s.name));
    }
    Transaction tx(m_db);
    Statement st = m_db.prepare(
        "INSERT INTO pairs(uuid, name, source, dest, reserve, on_delete, retention_days, "
        "mass_change_limit, source_marker, created_ns, mass_change_min) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?)");
    st.bind_text(1, uuid)
        .bind_text(2, s.name)
        .bind_blob(3, s.source)
        .bind_blob(4, s.dest)
        .bind_text(5, s.reserve.to_string())
        .bind_text(6, on_delete_text(s.on_delete))
        .bind(7, s.retention_days)
        .bind(8, s.mass_change_limit)
        .bind(9, s.source_marker ? 1 : 0)
        .bind(10, now_ns())
        .bind(11, s.mass_change_min)
        .run();
    int64_t id = m_db.last_insert_rowid();
    set_excludes(id, s.excludes);
    tx.commit();
    return *find_pair(s.name);
}

void Catalog::set_excludes(int64_t pair_id, const std::vector<std::string>& patterns) {
    m_db.prepare("DELETE FROM excludes WHERE pair_id = ?").bind(1, pair_id).run();
    Statement ex = m_db.prepare("INSERT INTO excludes(pair_id, position, pattern) VALUES (?,?,?)");
    int pos = 0;
    for (const auto& pattern : patterns) {
        ex.bind(1, pair_id).bind(2, pos++).bind_text(3, pattern).run();
    }
}

void Catalog::set_pair_settings(int64_t pair_id, const PairSettings& s) {
    Transaction tx(m_db);
    m_db.prepare("UPDATE pairs SET reserve = ?, on_delete = ?, retention_days = ?, "
                 "mass_change_limit = ?, mass_change_min = ? WHERE id = ?")
        .bind_text(1, s.reserve.to_string())
        .bind_text(2, on_delete_text(s.on_delete))
        .bind(3, s.retention_days)
        .bind(4, s.mass_change_limit)
        .bind(5, s.mass_change_min)
        .bind(6, pair_id)
        .run();
    set_excludes(pair_id, s.excludes);
    tx.commit();
}

void Catalog::set_seen(int64_t pair_id, End end, const std::string& machine, int64_t ns) {
    m_db.prepare(end == End::source
                     ? "UPDATE pairs SET source_machine = ?, source_seen_ns = ? WHERE id = ?"
                     : "UPDATE pairs SET dest_machine = ?, dest_seen_ns = ? WHERE id = ?")
        .bind_text(1, machine)
        .bind(2, ns)
        .bind(3, pair_id)
        .run();
}

Pair Catalog::read_pair(Statement& st) {
    Pair p;
    p.id = st.column_int(0);
    p.uuid = st.column_text(1);
    p.name = st.column_text(2);
    p.source = st.column_blob(3);
    p.dest = st.column_blob(4);
    p.reserve = parse_size_spec(st.column_text(5));
    p.on_delete = st.column_text(6) == "trash" ? OnDelete::trash : OnDelete::keep;
    p.retention_days = static_cast<int>(st.column_int(7));
    p.mass_change_limit = st.column_double(8);
    p.source_marker = st.column_int(9) != 0;
    p.created_ns = st.column_int(10);
    p.dest_claimed_ns = st.column_optional_int(11);
    p.scan_gen = st.column_int(12);
    p.last_scan_ns = st.column_optional_int(13);
    p.mass_change_min = st.column_int(14);
    if (!st.is_null(15)) {
        p.source_machine = st.column_text(15);
    }
    p.source_seen_ns = st.column_optional_int(16);
    if (!st.is_null(17)) {
        p.dest_machine = st.column_text(17);
    }
    p.dest_seen_ns = st.column_optional_int(18);
    Statement ex = m_db.prepare("SELECT pattern FROM excludes WHERE pair_id = ? ORDER BY position");
    ex.bind(1, p.id);
    while (ex.step()) {
        p.excludes.push_back(ex.column_text(0));
    }
    return p;
}

namespace {
const char* const pair_columns =
    "SELECT id, uuid, name, source, dest, reserve, on_delete, retention_days, mass_change_limit, "
    "source_marker, created_ns, dest_claimed_ns, scan_gen, last_scan_ns, mass_change_min, "
    "source_machine, source_seen_ns, dest_machine, dest_seen_ns FROM pairs";
}

std::vector<Pair> Catalog::pairs() {
    Statement st = m_db.prepare(std::string(pair_columns) + " ORDER BY name");
    std::vector<Pair> out;
    while (st.step()) {
        out.push_back(read_pair(st));
    }
    return out;
}

std::optional<Pair> Catalog::find_pair(const std::string& name) {
    Statement st = m_db.prepare(std::string(pair_columns) + " WHERE name = ?");
    st.bind_text(1, name);
    if (!st.step()) {
        return std::nullopt;
    }
    return read_pair(st);
}

void Catalog::remove_pair(int64_t pair_id) {
    Transaction tx(m_db);
    for (const char* sql : {"DELETE FROM staged WHERE pair_id = ?", "DELETE FROM entries WHERE pair_id = ?",
                            "DELETE FROM run_pairs WHERE pair_id = ?",
                            "DELETE FROM excludes WHERE pair_id = ?", "DELETE FROM pairs WHERE id = ?"}) {
        m_db.prepare(sql).bind(1, pair_id).run();
    }
    tx.commit();
}

void Catalog::set_dest_claimed(int64_t pair_id, int64_t ns) {
    m_db.prepare("UPDATE pairs SET dest_claimed_ns = ? WHERE id = ?").bind(1, ns).bind(2, pair_id).run();
}

void Catalog::set_scan_gen(int64_t pair_id, int64_t gen, std::optional<int64_t> finished_ns) {
    m_db.prepare("UPDATE pairs SET scan_gen = ?, last_scan_ns = coalesce(?, last_scan_ns) WHERE id = ?")
        .bind(1, gen)
        .bind(2, finished_ns)
        .bind(3, pair_id)
        .run();
}

int64_t Catalog::begin_run(const std::string& command, const std::string& side,
                           const std::string& pair_names, int64_t started_ns) {
    Statement st = m_db.prepare(
        "INSERT INTO runs(started_ns, host, command, side, pairs) VALUES (?,?,?,?,?)");
    st.bind(1, started_ns).bind_text(2, host_name()).bind_text(3, command).bind_text(4, side)
        .bind_text(5, pair_names).run();
    return m_db.last_insert_rowid();
}

void Catalog::end_run(int64_t run_id, const std::string& side, int exit_code, int64_t files,
                      int64_t bytes, int64_t failed, const std::string& summary) {
    Statement st = m_db.prepare("UPDATE runs SET ended_ns = ?, exit_code = ?, files = ?, bytes = ?, "
                                "failed = ?, summary = ?, side = ? WHERE id = ?");
    st.bind(1, now_ns()).bind(2, exit_code).bind(3, files).bind(4, bytes).bind(5, failed)
        .bind_text(6, summary).bind_text(7, side).bind(8, run_id).run();
}

namespace {
RunRecord read_run(Statement& st) {
    RunRecord r;
    r.id = st.column_int(0);
    r.started_ns = st.column_int(1);
    r.ended_ns = st.column_optional_int(2);
    r.host = st.column_text(3);
    r.command = st.column_text(4);
    r.side = st.column_text(5);
    r.pairs = st.column_text(6);
    r.exit_code = st.column_optional_int(7);
    r.files = st.column_int(8);
    r.bytes = st.column_int(9);
    r.failed = st.column_int(10);
    r.summary = st.column_text(11);
    return r;
}
const char* const run_columns = "SELECT id, started_ns, ended_ns, host, command, side, pairs, "
                                "exit_code, files, bytes, failed, summary FROM runs";
} // namespace

std::vector<RunRecord> Catalog::runs(int limit) {
    Statement st = m_db.prepare(std::string(run_columns) + " ORDER BY id DESC LIMIT ?");
    st.bind(1, limit);
    std::vector<RunRecord> out;
    while (st.step()) {
        out.push_back(read_run(st));
    }
    return out;
}

std::optional<RunRecord> Catalog::last_run(const std::string& command) {
    Statement st = m_db.prepare(std::string(run_columns) + " WHERE command = ? ORDER BY id DESC LIMIT 1");
    st.bind_text(1, command);
    if (!st.step()) {
        return std::nullopt;
    }
    return read_run(st);
}

namespace {
// A JSON array of strings, for "IN (SELECT value FROM json_each(?))".
std::string json_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t i = 0; i < items.size(); ++i) {
        out += (i ? ",\"" : "\"") + items[i] + "\"";
    }
    return out + "]";
}
} // namespace

std::optional<RunRecord> Catalog::last_run_of(const std::vector<std::string>& commands,
                                              const std::vector<std::string>& sides) {
    Statement st = m_db.prepare(std::string(run_columns) +
                                " WHERE command IN (SELECT value FROM json_each(?)) AND side IN "
                                "(SELECT value FROM json_each(?)) ORDER BY id DESC LIMIT 1");
    st.bind_text(1, json_list(commands)).bind_text(2, json_list(sides));
    if (!st.step()) {
        return std::nullopt;
    }
    return read_run(st);
}

void Catalog::record_pair_run(int64_t run_id, int64_t pair_id, const std::string& side,
                              int exit_code, int64_t files, int64_t bytes, int64_t failed) {
    m_db.prepare("INSERT OR REPLACE INTO run_pairs(run_id, pair_id, side, exit_code, files, "
                 "bytes, failed) VALUES (?,?,?,?,?,?,?)")
        .bind(1, run_id)
        .bind(2, pair_id)
        .bind_text(3, side)
        .bind(4, exit_code)
        .bind(5, files)
        .bind(6, bytes)
        .bind(7, failed)
        .run();
}

std::optional<PairRun> Catalog::last_pair_run(int64_t pair_id, const std::string& side,
                                              const std::vector<std::string>& commands) {
    std::string list = json_list(commands);
    Statement st = m_db.prepare(
        "SELECT r.id, r.started_ns, r.host, r.command, rp.side, rp.exit_code, rp.files, "
        "rp.bytes, rp.failed FROM run_pairs rp JOIN runs r ON r.id = rp.run_id WHERE "
        "rp.pair_id = ? AND rp.side = ? AND r.command IN (SELECT value FROM json_each(?)) "
        "ORDER BY rp.run_id DESC LIMIT 1");
    st.bind(1, pair_id).bind_text(2, side).bind_text(3, list);
    if (!st.step()) {
        return std::nullopt;
    }
    return PairRun{st.column_int(0), st.column_int(1), st.column_text(2), st.column_text(3),
                   st.column_text(4),  st.column_int(5), st.column_int(6), st.column_int(7),
                   st.column_int(8)};
}

} // namespace barge
