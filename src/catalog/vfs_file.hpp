#pragma once
// Internal to the VFS shim (vfs.cpp: registration and opening; vfs_pages.cpp: what a
// read or write of a protected file does). Not a public header.

#include "barge/catalog/page_codec.hpp"
#include "barge/catalog/vfs.hpp"

#include <array>
#include <fmt/format.h>
#include <new>
#include <optional>
#include <sqlite3.h>
#include <string>
#include <vector>

namespace barge {

struct PageProtection::Config {
    bool encrypted = false;
    std::optional<PageCipher> cipher; // encrypted only
};

namespace vfs {

enum class FileKind { other, database, journal };

// The shim's sqlite3_file: ours first, the "unix" file it wraps at real_offset.
struct PageFile {
    sqlite3_file base{};
    FileKind kind = FileKind::other;
    std::shared_ptr<const PageProtection::Config> config; // database and journal
    PageFile* db = nullptr;                               // journal: its database file
    // Checksum mode, database: page size and reserved bytes from the header (0, -1 while
    // the file is empty). Pages are checked when the reserve is 8.
    uint32_t page_size = 0;
    int reserve = -1;
    bool tampered = false; // a checksummed database whose header claims otherwise
    std::string path;
    std::optional<NonceSequence> nonces; // encrypted only
    PageWriteTracker* tracker = nullptr;  // database only: told of every write
    std::vector<uint8_t> scratch;        // one page, for sealing and partial reads
    // Journal: the last 4-byte field written and where (SQLite writes a record's page
    // number just before its image): the image's write need not read it back.
    sqlite3_int64 last_field_off = -1;
    std::array<uint8_t, 4> last_field{};

    bool encrypted() const { return config && config->encrypted; }
    bool checked() const { return !encrypted() && reserve == 8 && page_size != 0; }
    uint8_t* scratch_page(size_t size) {
        if (scratch.size() < size) {
            scratch.resize(size); // once per file: pages have one size
        }
        return scratch.data();
    }
};

inline constexpr size_t real_offset = (sizeof(PageFile) + 15) & ~size_t{15};

inline PageFile* page_file(sqlite3_file* f) {
    return reinterpret_cast<PageFile*>(f);
}

inline sqlite3_file* real(PageFile* p) {
    return reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(p) + real_offset);
}

inline int read_real(PageFile* p, void* buf, int amt, sqlite3_int64 off) {
    return real(p)->pMethods->xRead(real(p), buf, amt, off);
}

inline int write_real(PageFile* p, const void* buf, int amt, sqlite3_int64 off) {
    return real(p)->pMethods->xWrite(real(p), buf, amt, off);
}

// Records why the shim refused an operation (see take_page_failure); returns rc.
int refuse_with(int rc, std::string message) noexcept;
template <typename... Args>
int refuse(int rc, fmt::format_string<Args...> format, Args&&... args) noexcept {
    try {
        return refuse_with(rc, fmt::format(format, std::forward<Args>(args)...));
    } catch (const std::exception&) { // formatting ran out of memory: keep the code
        return refuse_with(rc, {});
    }
}

// The private file-control operation that attaches a PageWriteTracker.
inline constexpr int fcntl_track_writes = 0x62617267; // "barg"

// Checksum mode: learns the page size and reserve of a database being opened.
void inspect_header(PageFile* p);
// xRead and xWrite of the shim's files.
int read_file(PageFile* p, uint8_t* buf, int amt, sqlite3_int64 off);
int write_file(PageFile* p, const uint8_t* buf, int amt, sqlite3_int64 off);

} // namespace vfs
} // namespace barge
