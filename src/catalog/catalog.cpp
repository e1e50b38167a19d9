#include "barge/catalog/catalog.hpp"

#include "barge/catalog/schema.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/catalog/vfs.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>
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

// The database header's reserved bytes per page (byte 20), read from the file;
// -1 when the file has no valid header.
int reserved_bytes_of(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::array<unsigned char, 100> h{};
    if (!fd || ::pread(fd.get(), h.data(), h.size(), 0) != static_cast<ssize_t>(h.size()) ||
        std::memcmp(h.data(), "SQLite format 3", 16) != 0) {
        return -1;
    }
    return h[20];
}

// The schema version (user_version, bytes 60-63 of the header); -1 as above.
int64_t header_version(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::array<unsigned char, 100> h{};
    if (!fd || ::pread(fd.get(), h.data(), h.size(), 0) != static_cast<ssize_t>(h.size()) ||
        std::memcmp(h.data(), "SQLite format 3", 16) != 0) {
        return -1;
    }
    return (int64_t{h[60]} << 24) | (int64_t{h[61]} << 16) | (int64_t{h[62]} << 8) | h[63];
}

// PRAGMA quick_check over the whole file: every page read (so checksummed), every
// b-tree's structure checked. O(size of the catalog).
void full_check(Database& db) {
    Statement check = db.prepare("PRAGMA quick_check");
    while (check.step()) {
        std::string r = check.column_text(0);
        if (r != "ok") {
            throw CatalogError(fmt::format("catalog '{}' is corrupt: {}", db.path(), r));
        }
    }
}

} // namespace

Catalog::Catalog(Database db, std::shared_ptr<const DriveKeys> keys)
    : m_db(std::move(db)), m_keys(std::move(keys)),
      m_cipher(m_keys ? std::make_unique<PageCipher>(copy_key(m_keys->catalog), m_keys->drive_id)
                      : nullptr) {}

namespace {
// How the pages of a drive's catalog are protected: checksums, or (encrypted
// drives) authenticated encryption bound to the drive's id.
PageProtection protection_for(const std::shared_ptr<const DriveKeys>& keys) {
    return keys ? PageProtection::encrypted(copy_key(keys->catalog), keys->drive_id)
                : PageProtection::checksum();
}
} // namespace

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
                        const std::string& drive_id, std::shared_ptr<const DriveKeys> keys) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) == 0) {
        throw Refusal(fmt::format("'{}' already exists: this directory is already a drive", path));
    }
    PageProtection protection = protection_for(keys);
    Catalog cat{open_protected(path, Database::Create::yes, protection), keys};
    prepare_protected(cat.m_db, protection);
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
std::string recover_hint(const std::string& path) {
    std::string drive = path.substr(0, path.rfind('/'));
    return fmt::format(". If the drive's catalog is damaged, rebuild it from the newest "
                       "copy at a pair's source or destination: 'barge -d {} recover "
                       "ROOT...' (docs/recovery.md)",
                       drive.empty() ? "." : drive);
}
std::string with_recover_hint(const std::string& what, const std::string& path) {
    if (what.find("barge recover") != std::string::npos) {
        return what;
    }
    return what + recover_hint(path);
}
} // namespace

Catalog Catalog::open(const std::string& path, Check check, std::shared_ptr<const DriveKeys> keys) {
    try {
        Catalog cat = open_checked(path, check, std::move(keys));
        cat.m_db.set_damage_hint(recover_hint(path));
        return cat;
    } catch (const CatalogError& e) {
        if (e.code() == ExitCode::refused) {
            throw; // a newer barge's catalog: not damaged
        }
        throw CatalogError(with_recover_hint(e.what(), path), e.code());
    }
}

Catalog Catalog::open_checked(const std::string& path, Check check,
                              std::shared_ptr<const DriveKeys> keys) {
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0) {
        throw_errno("open catalog", path);
    }
    struct stat journal{};
    bool hot = ::stat((path + "-journal").c_str(), &journal) == 0 && journal.st_size > 0;
    if (!keys && !hot && reserved_bytes_of(path) < 0 && st.st_size >= 4096) {
        // No SQLite header: an encrypted catalog whose DRIVE/barge.key is gone, or garbage.
        throw CatalogError(fmt::format(
            "catalog '{}' is corrupt: it has no SQLite header. (If this drive was made with "
            "'barge init --encrypt', its key file barge.key is missing beside it instead: a "
            "copy is in each endpoint's .barge/ as drive-ID.wrapped-key)",
            path));
    }
    if (keys && reserved_bytes_of(path) >= 0) {
        // A key file beside a plain catalog: 'barge encrypt' was interrupted after
        // writing the key and before the encrypted catalog replaced the plain one.
        throw CatalogError(fmt::format("catalog '{}' is not encrypted although the drive has a key "
                                       "file: an interrupted 'barge encrypt'; run it again",
                                       path),
                           ExitCode::refused);
    }
    Catalog cat{open_protected(path, Database::Create::no, protection_for(keys)), keys};
    cat.configure();
    // Reading the version is the first read: SQLite rolls back a hot journal left
    // by an interrupted run here, before any other connection looks at the file.
    // Every page read from here on is checked against its checksum (catalog/vfs.hpp).
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
    // Encrypted pages are always protected; a plain catalog without checksums is
    // from before them.
    bool unprotected = !keys && reserved_bytes_of(path) != PageProtection::checksum_reserve;
    if (check == Check::full || version < schema_version || unprotected) {
        // A migration rewrites the catalog: never on top of a damaged one.
        full_check(cat.m_db);
    }
    if (version < schema_version || unprotected) {
        // Written without tracking its pages: the endpoint copies are made whole next.
        PageMap::forget(path);
    }
    migrate(cat.m_db, migrations(), [&](int from) {
        std::string bak = fmt::format("{}.v{}-{}.bak", path, from, utc_stamp(now_ns()));
        if (keys) {
            cat.backup_to(bak); // the file as it is: its pages stay encrypted
        } else {
            backup_database(cat.m_db, bak);
        }
    });
    if (unprotected) {
        cat = protect(std::move(cat), path);
    }
    check_schema_objects(cat.m_db);
    return cat;
}

bool Catalog::needs_upgrade(const std::string& path, std::shared_ptr<const DriveKeys> keys) {
    if (keys && reserved_bytes_of(path) >= 0) {
        return false; // plain beside a key file: open() refuses it (an interrupted encrypt)
    }
    if (keys) {
        // Encrypted: page 1 read and opened here, not through SQLite, which would
        // need the database lock a writer may hold (exit 75 comes from the drive lock).
        std::array<uint8_t, encrypted_page_size> page{};
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        PageCipher cipher(copy_key(keys->catalog), keys->drive_id);
        if (!fd || ::pread(fd.get(), page.data(), page.size(), 0) != static_cast<ssize_t>(page.size()) ||
            !cipher.open(PageKind::database, 1, 0, page.data())) {
            return false; // open() says what is wrong, under the lock
        }
        int64_t version = (int64_t{page[60]} << 24) | (int64_t{page[61]} << 16) |
                          (int64_t{page[62]} << 8) | page[63];
        return version > 0 && version < schema_version;
    }
    int reserve = reserved_bytes_of(path);
    int64_t version = header_version(path);
    return reserve >= 0 && version > 0 &&
           (reserve != PageProtection::checksum_reserve || version < schema_version);
}

Catalog Catalog::protect(Catalog cat, const std::string& path) {
    // A catalog made before page checksums (barge 0.1): copied page by page into a
    // checksummed file (VACUUM INTO), made durable, and renamed over the original.
    // A crash before the rename leaves the old file, converted again next time.
    PendingFile tmp(path + ".protect.tmp");
    ::unlink(tmp.path().c_str());
    ::unlink((tmp.path() + "-journal").c_str());
    vacuum_into_protected(cat.m_db, tmp.path(), PageProtection::checksum());
    fsync_file(tmp.path());
    { Catalog closing = std::move(cat); } // no connection to the old file while it is replaced
    tmp.keep();
    rename_into_place(tmp.path(), path);
    Catalog fresh{open_protected(path, Database::Create::no, PageProtection::checksum()), nullptr};
    fresh.configure();
    return fresh;
}

Catalog Catalog::encrypt(Catalog cat, const std::string& path, std::shared_ptr<const DriveKeys> keys) {
    PendingFile tmp(path + ".encrypt.tmp");
    ::unlink(tmp.path().c_str());
    ::unlink((tmp.path() + "-journal").c_str());
    vacuum_into_protected(cat.m_db, tmp.path(), protection_for(keys));
    fsync_file(tmp.path());
    { Catalog closing = std::move(cat); }
    // A journal a killed plain session left (its header zeroed: not hot, so no
    // open rolls it back or removes it) holds plain page images, names among
    // them: never beside the sealed catalog. The plain one is closed: nothing
    // is written to it any more.
    if (::unlink((path + "-journal").c_str()) != 0 && errno != ENOENT) {
        throw_errno("unlink", path + "-journal");
    }
    PageMap::forget(path);
    tmp.keep();
    rename_into_place(tmp.path(), path);
    Catalog fresh{open_protected(path, Database::Create::no, protection_for(keys)), keys};
    fresh.configure();
    return fresh;
}

std::optional<std::string> Catalog::meta(const std::string& key) {
    return read_meta(m_db, key);
}

void Catalog::set_meta(const std::string& key, const std::string& value) {
    write_meta(m_db, key, value);
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
    copy_database_file(m_db.path(), path, static_cast<uint32_t>(m_db.query_int("PRAGMA page_size")),
                       m_cipher.get());
}

void Catalog::track_pages() {
    m_pages = std::make_unique<PageMap>(m_db.path());
    track_page_writes(m_db, m_pages.get());
}

void Catalog::seal_pages() {
    if (m_pages && !m_db.damaged()) {
        m_pages->seal();
    }
}

ReplicaUpdate Catalog::update_copy(const std::string& copy_path) {
    if (m_db.damaged()) {
        throw CatalogError(with_recover_hint(fmt::format("catalog '{}' is corrupt: its copies at the "
                                                         "endpoints are left as they are",
                                                         m_db.path()),
                                             m_db.path()));
    }
    try {
        if (!m_pages) {
            // Not tracked in this session: a map that still describes the file serves;
            // any other starts a new epoch, and the copy is made whole.
            PageMap map(m_db.path());
            map.seal();
            return update_replica(m_db.path(), map, copy_path, m_cipher.get());
        }
        m_pages->seal();
        return update_replica(m_db.path(), *m_pages, copy_path, m_cipher.get());
    } catch (const DamagedPage& e) {
        m_db.mark_damaged(); // nothing more is written to it, nor copied anywhere
        throw CatalogError(with_recover_hint(std::string(e.what()) + ": no endpoint copy is updated from it",
                                             m_db.path()));
    }
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
        "mass_change_limit, source_marker, created_ns, mass_change_min, options_ns) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");
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
        .bind(12, s.options_ns)
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
                 "mass_change_limit = ?, mass_change_min = ?, options_ns = ? WHERE id = ?")
        .bind_text(1, s.reserve.to_string())
        .bind_text(2, on_delete_text(s.on_delete))
        .bind(3, s.retention_days)
        .bind(4, s.mass_change_limit)
        .bind(5, s.mass_change_min)
        .bind(6, s.options_ns)
        .bind(7, pair_id)
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
    // A reserve above max_size_spec, which a barge before 0.2 took (and then,
    // wrapped negative, meant no reserve at all), reads as that bound: the
    // drive then says the reserve leaves no room and how to lower it, where
    // refusing it at every command left the drive unusable.
    p.reserve = parse_size_spec(st.column_text(5), SizeOver::clamp);
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
    if (!st.is_null(19)) {
        p.xattr_scope = st.column_text(19);
    }
    p.last_ord = st.column_int(20);
    p.options_ns = st.column_int(21);
    if (!st.is_null(22)) {
        p.dest_order_epoch = st.column_text(22);
    }
    p.dest_order_seq = st.column_int(23);
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
    "source_machine, source_seen_ns, dest_machine, dest_seen_ns, xattr_scope, last_ord, options_ns, "
    "dest_order_epoch, dest_order_seq FROM pairs";
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
                            "DELETE FROM drive_cargo WHERE pair_id = ?",
                            "DELETE FROM drives WHERE pair_id = ?",
                            "DELETE FROM excludes WHERE pair_id = ?", "DELETE FROM pairs WHERE id = ?"}) {
        m_db.prepare(sql).bind(1, pair_id).run();
    }
    TransitStore store(m_db); // the journals a run left
    store.drop_dir_move(pair_id);
    store.drop_dir_times(pair_id);
    tx.commit();
}

void Catalog::set_dest_claimed(int64_t pair_id, int64_t ns) {
    m_db.prepare("UPDATE pairs SET dest_claimed_ns = ? WHERE id = ?").bind(1, ns).bind(2, pair_id).run();
}

void Catalog::set_xattr_scope(int64_t pair_id, const std::optional<std::string>& scope) {
    Statement st = m_db.prepare("UPDATE pairs SET xattr_scope = ? WHERE id = ?");
    if (scope) {
        st.bind_text(1, *scope);
    } else {
        st.bind_null(1);
    }
    st.bind(2, pair_id).run();
}

void Catalog::set_last_ord(int64_t pair_id, int64_t ord) {
    m_db.prepare("UPDATE pairs SET last_ord = max(last_ord, ?) WHERE id = ?").bind(1, ord).bind(2, pair_id).run();
}

void Catalog::set_dest_order_read(int64_t pair_id, const std::string& epoch, int64_t seq) {
    m_db.prepare("UPDATE pairs SET dest_order_epoch = ?, dest_order_seq = ? WHERE id = ?")
        .bind_text(1, epoch)
        .bind(2, seq)
        .bind(3, pair_id)
        .run();
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
