#pragma once

#include "barge/catalog/database.hpp"
#include "barge/crypto/keys.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace barge {

// A SQLite VFS shim over "unix" that protects every page of a database file (and the
// page images in its rollback journal) in the pages' reserved bytes:
//   checksum  - 8 reserved bytes: a BLAKE2b checksum bound to the page number; a
//               mismatch reads as SQLITE_IOERR_DATA. A database whose pages reserve
//               some other number of bytes (a catalog made before the shim) passes
//               through unchecked until migrated (vacuum_into_protected).
//   encrypted - 40 reserved bytes, 4096-byte pages: XChaCha20-Poly1305 of the whole
//               page, header included, bound to the page number and the database id.
// Registered under page_vfs_name, never as the default. Only rollback journals are
// supported (journal_mode DELETE, locking_mode NORMAL or EXCLUSIVE), with
// temp_store=MEMORY: temporary files pass through unprotected, WAL is refused.
inline constexpr const char* page_vfs_name = "barge-pages";

// Registers the shim (idempotent, thread-safe). open_protected calls it.
void register_page_vfs();

// The protection the opener chooses for a database opened through the shim. Files
// keep their own reference: a PageProtection need only live until they are opened.
class PageProtection {
public:
    static constexpr int checksum_reserve = 8;
    static constexpr int encrypted_reserve = 40;

    // Checksummed pages (unencrypted drives).
    static PageProtection checksum();
    // Encrypted pages under catalog_key (the catalog subkey); database_id (the drive
    // id, at most 256 bytes) is bound to every page.
    static PageProtection encrypted(SecretKey catalog_key, std::string_view database_id);

    ~PageProtection();
    PageProtection(PageProtection&&) noexcept;
    PageProtection& operator=(PageProtection&&) noexcept;
    PageProtection(const PageProtection&) = delete;
    PageProtection& operator=(const PageProtection&) = delete;

    // The SQLite URI query parameters that select this protection in the shim.
    const std::string& uri_params() const { return m_params; }
    // Reserved bytes per page this protection needs.
    int reserved_bytes() const;
    bool encrypted() const;

    struct Config;

private:
    PageProtection(std::shared_ptr<const Config> config, std::string params, std::string token);
    std::shared_ptr<const Config> m_config;
    std::string m_params;
    std::string m_token; // registry entry of an encrypted protection, "" otherwise
};

// Opens the database at path through the shim, protected by p. The shim is also the
// connection's VFS for ATTACH and VACUUM INTO (which take URIs).
Database open_protected(const std::string& path, Database::Create create, const PageProtection& p);
// Makes a new, empty database opened with p ready for its first write: page size 4096
// and the reserved bytes p needs. Writes to an encrypted database without them fail.
void prepare_protected(Database& db, const PageProtection& p);
// Writes a compacted copy of db into the new file dest_path, protected by p (VACUUM
// INTO): the migration of a catalog made before the shim. db may be opened with or
// without the shim; dest_path must not exist.
void vacuum_into_protected(Database& db, const std::string& dest_path, const PageProtection& p);

// Told about every write of a database file opened through the shim, so that what
// changed can be copied elsewhere page by page (catalog/page_map.hpp). Called on
// the connection's thread, from inside SQLite: never throws.
class PageWriteTracker {
public:
    virtual ~PageWriteTracker() = default;
    // Before a write of the file, every time: false refuses the write (SQLite then
    // fails the statement with an I/O error).
    virtual bool before_write() noexcept = 0;
    // Pages first..last (1-based, inclusive) were written, or truncated away.
    virtual void wrote(uint64_t first, uint64_t last) noexcept = 0;
};
// Attaches tracker to db's main database file (opened with open_protected), before
// its first write; nullptr detaches. The tracker must outlive the attachment.
void track_page_writes(Database& db, PageWriteTracker* tracker);

// What the shim last refused on this thread, e.g. "page 3 of '/d/barge.db' does not
// authenticate", for error messages (SQLite itself only says "disk I/O error"); taking
// it forgets it, so the next failure is not confused with an old one.
std::optional<std::string> take_page_failure();

} // namespace barge
