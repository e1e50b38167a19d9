#include "barge/util/text.hpp"
#include "vfs_file.hpp"

#include <array>
#include <cstring>
#include <mutex>
#include <sodium.h>
#include <unordered_map>

namespace barge {

namespace vfs {

namespace {

sqlite3_vfs* g_root = nullptr;
sqlite3_vfs g_vfs{};
sqlite3_io_methods g_methods{};

thread_local std::optional<std::string> t_failure;

std::mutex g_registry_mutex;
std::unordered_map<std::string, std::shared_ptr<const PageProtection::Config>> g_registry;

int x_read(sqlite3_file* f, void* buf, int amt, sqlite3_int64 off) {
    return read_file(page_file(f), static_cast<uint8_t*>(buf), amt, off);
}

// The pages [off, off + amt) touches, 1-based; the whole file when the page size is
// not known yet (a tracker then simply copies more).
std::pair<uint64_t, uint64_t> pages_of(const PageFile* p, sqlite3_int64 off, sqlite3_int64 amt) {
    uint64_t size = p->encrypted() ? encrypted_page_size : p->page_size;
    if (size == 0) {
        return {1, UINT64_MAX};
    }
    auto first = static_cast<uint64_t>(off) / size + 1;
    auto last = amt > 0 ? static_cast<uint64_t>(off + amt - 1) / size + 1 : UINT64_MAX;
    return {first, last};
}

int x_write(sqlite3_file* f, const void* buf, int amt, sqlite3_int64 off) {
    PageFile* p = page_file(f);
    if (p->tracker && !p->tracker->before_write()) {
        return refuse(SQLITE_IOERR_WRITE, "'{}': cannot record which pages change", p->path);
    }
    int rc = write_file(p, static_cast<const uint8_t*>(buf), amt, off);
    if (p->tracker) {
        // Told even of a failed write: some of its bytes may have reached the file.
        auto [first, last] = pages_of(p, off, amt);
        p->tracker->wrote(first, last);
    }
    return rc;
}

int x_close(sqlite3_file* f) {
    PageFile* p = page_file(f);
    sqlite3_file* r = real(p);
    int rc = r->pMethods ? r->pMethods->xClose(r) : SQLITE_OK;
    p->~PageFile();
    return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
    PageFile* p = page_file(f);
    if (p->tracker && !p->tracker->before_write()) {
        return refuse(SQLITE_IOERR_TRUNCATE, "'{}': cannot record which pages change", p->path);
    }
    p->last_field_off = -1;
    int rc = real(p)->pMethods->xTruncate(real(p), size);
    if (p->tracker) {
        p->tracker->wrote(pages_of(p, size, 0).first, UINT64_MAX);
    }
    return rc;
}

// The rest is the wrapped file's own behaviour.
int x_sync(sqlite3_file* f, int flags) {
    return real(page_file(f))->pMethods->xSync(real(page_file(f)), flags);
}
int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
    return real(page_file(f))->pMethods->xFileSize(real(page_file(f)), size);
}
int x_lock(sqlite3_file* f, int level) {
    return real(page_file(f))->pMethods->xLock(real(page_file(f)), level);
}
int x_unlock(sqlite3_file* f, int level) {
    return real(page_file(f))->pMethods->xUnlock(real(page_file(f)), level);
}
int x_check_reserved(sqlite3_file* f, int* out) {
    return real(page_file(f))->pMethods->xCheckReservedLock(real(page_file(f)), out);
}
int x_file_control(sqlite3_file* f, int op, void* arg) {
    PageFile* p = page_file(f);
    if (op == fcntl_track_writes) {
        if (p->kind != FileKind::database) {
            return SQLITE_NOTFOUND;
        }
        p->tracker = static_cast<PageWriteTracker*>(arg);
        return SQLITE_OK;
    }
    return real(p)->pMethods->xFileControl(real(p), op, arg);
}
int x_sector_size(sqlite3_file* f) {
    return real(page_file(f))->pMethods->xSectorSize(real(page_file(f)));
}
int x_device_characteristics(sqlite3_file* f) {
    return real(page_file(f))->pMethods->xDeviceCharacteristics(real(page_file(f)));
}

// The database file a journal or WAL belongs to, when it was opened through the shim.
PageFile* owner_of(const char* name) {
    sqlite3_file* db = name ? sqlite3_database_file_object(name) : nullptr;
    return db && db->pMethods == &g_methods ? page_file(db) : nullptr;
}

int configure(PageFile* p, const char* name, int flags) {
    if (flags & SQLITE_OPEN_MAIN_DB) {
        const char* mode = sqlite3_uri_parameter(name, "barge_pages");
        p->kind = FileKind::database;
        p->path = name ? name : "";
        if (mode && std::strcmp(mode, "checksum") == 0) {
            p->config = std::make_shared<const PageProtection::Config>();
        } else if (mode && std::strcmp(mode, "encrypted") == 0) {
            const char* token = sqlite3_uri_parameter(name, "barge_key");
            std::lock_guard lock(g_registry_mutex);
            auto it = token ? g_registry.find(token) : g_registry.end();
            if (it == g_registry.end()) {
                return refuse(SQLITE_CANTOPEN, "'{}': its encryption key is gone", p->path);
            }
            p->config = it->second;
            p->nonces.emplace();
        } else {
            return refuse(SQLITE_CANTOPEN, "'{}' opened through {} without barge_pages", p->path,
                          page_vfs_name);
        }
    } else if (flags & SQLITE_OPEN_MAIN_JOURNAL) {
        if (PageFile* db = owner_of(name)) {
            p->kind = FileKind::journal;
            p->db = db;
            p->config = db->config;
            p->path = name;
            if (db->encrypted()) {
                p->nonces.emplace();
            }
        }
    } else if ((flags & SQLITE_OPEN_WAL) && owner_of(name)) {
        // A WAL would hold page images in the clear; barge uses a rollback journal.
        return refuse(SQLITE_CANTOPEN, "'{}': {} supports no WAL", name, page_vfs_name);
    }
    return SQLITE_OK;
}

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* file, int flags, int* out_flags) {
    PageFile* p = new (file) PageFile();
    int rc = SQLITE_OK;
    try {
        rc = configure(p, name, flags);
    } catch (const std::bad_alloc&) {
        rc = SQLITE_NOMEM;
    } catch (const std::exception& e) { // no exception may cross into SQLite's C frames
        rc = refuse(SQLITE_CANTOPEN, "{}", e.what());
    }
    if (rc == SQLITE_OK) {
        rc = g_root->xOpen(g_root, name, real(p), flags, out_flags);
    }
    if (rc != SQLITE_OK) {
        p->~PageFile();
        file->pMethods = nullptr; // SQLite closes only files whose pMethods is set
        return rc;
    }
    p->base.pMethods = &g_methods;
    if (p->kind == FileKind::database && !p->encrypted()) {
        inspect_header(p); // before any write, even a hot journal's rollback
    }
    return SQLITE_OK;
}

// The VFS's other methods are "unix"'s.
int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
    return g_root->xDelete(g_root, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
    return g_root->xAccess(g_root, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g_root->xFullPathname(g_root, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) {
    return g_root->xDlOpen(g_root, name);
}
void x_dl_error(sqlite3_vfs*, int n, char* msg) {
    g_root->xDlError(g_root, n, msg);
}
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) {
    return g_root->xDlSym(g_root, h, sym);
}
void x_dl_close(sqlite3_vfs*, void* h) {
    g_root->xDlClose(g_root, h);
}
int x_randomness(sqlite3_vfs*, int n, char* out) {
    return g_root->xRandomness(g_root, n, out);
}
int x_sleep(sqlite3_vfs*, int us) {
    return g_root->xSleep(g_root, us);
}
int x_current_time(sqlite3_vfs*, double* t) {
    return g_root->xCurrentTime(g_root, t);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
    return g_root->xGetLastError(g_root, n, out);
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* t) {
    return g_root->xCurrentTimeInt64(g_root, t);
}

} // namespace

int refuse_with(int rc, std::string message) noexcept {
    if (message.empty()) {
        t_failure.reset();
    } else {
        t_failure = std::move(message); // a move: nothing to throw
    }
    return rc;
}

} // namespace vfs

using namespace vfs;

void register_page_vfs() {
    static std::once_flag once;
    std::call_once(once, [] {
        ensure_sodium();
        configure_sqlite();
        g_root = sqlite3_vfs_find("unix");
        if (!g_root) {
            throw CatalogError("SQLite has no \"unix\" VFS to protect pages over");
        }
        // Version 1 methods: no xShmMap (so no WAL) and no xFetch (so no mmap, which
        // would read pages around xRead).
        g_methods.iVersion = 1;
        g_methods.xClose = x_close;
        g_methods.xRead = x_read;
        g_methods.xWrite = x_write;
        g_methods.xTruncate = x_truncate;
        g_methods.xSync = x_sync;
        g_methods.xFileSize = x_file_size;
        g_methods.xLock = x_lock;
        g_methods.xUnlock = x_unlock;
        g_methods.xCheckReservedLock = x_check_reserved;
        g_methods.xFileControl = x_file_control;
        g_methods.xSectorSize = x_sector_size;
        g_methods.xDeviceCharacteristics = x_device_characteristics;
        g_vfs.iVersion = 2;
        g_vfs.szOsFile = static_cast<int>(real_offset) + g_root->szOsFile;
        g_vfs.mxPathname = g_root->mxPathname;
        g_vfs.zName = page_vfs_name;
        g_vfs.xOpen = x_open;
        g_vfs.xDelete = x_delete;
        g_vfs.xAccess = x_access;
        g_vfs.xFullPathname = x_full_pathname;
        g_vfs.xDlOpen = x_dl_open;
        g_vfs.xDlError = x_dl_error;
        g_vfs.xDlSym = x_dl_sym;
        g_vfs.xDlClose = x_dl_close;
        g_vfs.xRandomness = x_randomness;
        g_vfs.xSleep = x_sleep;
        g_vfs.xCurrentTime = x_current_time;
        g_vfs.xGetLastError = x_get_last_error;
        g_vfs.xCurrentTimeInt64 = x_current_time_int64;
        if (int rc = sqlite3_vfs_register(&g_vfs, 0); rc != SQLITE_OK) {
            throw CatalogError(
                fmt::format("cannot register {}: {}", page_vfs_name, sqlite3_errstr(rc)));
        }
    });
}

PageProtection::PageProtection(std::shared_ptr<const Config> config, std::string params,
                               std::string token)
    : m_config(std::move(config)), m_params(std::move(params)), m_token(std::move(token)) {}

PageProtection PageProtection::checksum() {
    return PageProtection(std::make_shared<const Config>(), "barge_pages=checksum", "");
}

PageProtection PageProtection::encrypted(SecretKey catalog_key, std::string_view database_id) {
    auto config = std::make_shared<Config>();
    config->encrypted = true;
    config->cipher.emplace(std::move(catalog_key), database_id);
    // The key travels to xOpen through an in-process registry: a URI names only a
    // random token, never the key.
    std::array<uint8_t, 16> raw{};
    ensure_sodium();
    randombytes_buf(raw.data(), raw.size());
    std::string token = to_hex(raw);
    {
        std::lock_guard lock(g_registry_mutex);
        g_registry.emplace(token, config);
    }
    return PageProtection(std::move(config), "barge_pages=encrypted&barge_key=" + token, token);
}

PageProtection::~PageProtection() {
    if (!m_token.empty()) {
        std::lock_guard lock(g_registry_mutex);
        g_registry.erase(m_token);
    }
}

PageProtection::PageProtection(PageProtection&& other) noexcept
    : m_config(std::move(other.m_config)), m_params(std::move(other.m_params)),
      m_token(std::exchange(other.m_token, "")) {}

PageProtection& PageProtection::operator=(PageProtection&& other) noexcept {
    if (this != &other) {
        std::swap(m_config, other.m_config);
        std::swap(m_params, other.m_params);
        std::swap(m_token, other.m_token); // other unregisters what this held
    }
    return *this;
}

int PageProtection::reserved_bytes() const {
    return encrypted() ? encrypted_reserve : checksum_reserve;
}

bool PageProtection::encrypted() const {
    return m_config->encrypted;
}

Database open_protected(const std::string& path, Database::Create create, const PageProtection& p) {
    register_page_vfs();
    return Database(path, create, page_vfs_name, p.uri_params());
}

namespace {

// Asks SQLite to give the pages of db's main database (or what VACUUM INTO writes from
// it) reserve bytes at least; returns the reserve it will use. Reserves only grow.
int request_reserve(Database& db, int reserve) {
    if (int rc = sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_RESERVE_BYTES, &reserve);
        rc != SQLITE_OK) {
        db.fail(rc, "reserve bytes");
    }
    int now = -1; // -1 asks without changing
    sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_RESERVE_BYTES, &now);
    return now;
}

void require_reserve(Database& db, const PageProtection& p) {
    // PRAGMA page_size resets the requested reserve: it must come first.
    if (p.encrypted()) {
        db.exec("PRAGMA page_size = 4096");
    }
    int got = request_reserve(db, p.reserved_bytes());
    if (got != p.reserved_bytes()) {
        throw CatalogError(fmt::format("catalog '{}' reserves {} bytes per page, not {}", db.path(),
                                       got, p.reserved_bytes()));
    }
}

} // namespace

void prepare_protected(Database& db, const PageProtection& p) {
    require_reserve(db, p);
}

void vacuum_into_protected(Database& db, const std::string& dest_path, const PageProtection& p) {
    sqlite3_vfs* vfs = nullptr;
    sqlite3_file_control(db.handle(), "main", SQLITE_FCNTL_VFS_POINTER, &vfs);
    if (!vfs || std::strcmp(vfs->zName, page_vfs_name) != 0) {
        // VACUUM INTO opens its target through the connection's VFS, and takes a URI
        // only when the connection was opened with URIs.
        throw CatalogError(fmt::format("catalog '{}' must be opened with open_protected to be "
                                       "copied into a protected file",
                                       db.path()));
    }
    require_reserve(db, p);
    Statement st = db.prepare("VACUUM INTO ?");
    st.bind_text(1, sqlite_file_uri(dest_path, p.uri_params()));
    st.run();
}

void track_page_writes(Database& db, PageWriteTracker* tracker) {
    if (int rc = sqlite3_file_control(db.handle(), "main", fcntl_track_writes, tracker);
        rc != SQLITE_OK) {
        db.fail(rc, "tracking page writes (not opened with open_protected?)");
    }
}

std::optional<std::string> take_page_failure() {
    return std::exchange(vfs::t_failure, std::nullopt);
}

} // namespace barge
