#include "vfs_file.hpp"

#include <array>
#include <cstring>

namespace barge::vfs {

namespace {

constexpr std::array<uint8_t, 8> journal_magic = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};

// Reads the page size and reserve from a database header; ignores anything else.
void note_header(PageFile* p, const uint8_t* h) {
    if (std::memcmp(h, "SQLite format 3", 16) != 0) {
        return;
    }
    uint32_t size = (uint32_t{h[16]} << 8) | h[17];
    size = size == 1 ? 65536 : size;
    if (size >= 512 && size <= 65536 && (size & (size - 1)) == 0) {
        p->page_size = size;
        p->reserve = h[20];
    }
}

int read_checksum_db(PageFile* p, uint8_t* buf, int amt, sqlite3_int64 off) {
    if (p->tampered) {
        return refuse(SQLITE_IOERR_DATA, "'{}' has checksummed pages but its header says otherwise",
                      p->path);
    }
    int rc = read_real(p, buf, amt, off);
    if (rc != SQLITE_OK) {
        return rc; // a short read past the end is zeros: nothing to check
    }
    // A read never turns checking off (a damaged byte 20 must not disable it); it may
    // turn it on when another connection migrated the file.
    if (off == 0 && amt >= 100 && p->reserve != 8) {
        note_header(p, buf);
    }
    auto size = static_cast<uint32_t>(amt);
    if (p->checked() && size == p->page_size && off % amt == 0) {
        auto pgno = static_cast<uint64_t>(off / amt) + 1;
        if (!page_checksum_ok({buf, size}, pgno)) {
            return refuse(SQLITE_IOERR_DATA, "page {} of '{}' fails its checksum", pgno, p->path);
        }
    }
    return SQLITE_OK;
}

int write_checksum_db(PageFile* p, const uint8_t* buf, int amt, sqlite3_int64 off) {
    if (off == 0 && amt >= 100) {
        note_header(p, buf); // what SQLite writes is authoritative (VACUUM changes it)
    }
    auto size = static_cast<uint32_t>(amt);
    if (!p->checked() || size != p->page_size || off % amt != 0) {
        return write_real(p, buf, amt, off);
    }
    uint8_t* page = p->scratch_page(size);
    std::memcpy(page, buf, size);
    put_page_checksum({page, size}, static_cast<uint64_t>(off / amt) + 1);
    return write_real(p, page, amt, off);
}

int read_encrypted_db(PageFile* p, uint8_t* buf, int amt, sqlite3_int64 off) {
    auto page_off = off - off % static_cast<sqlite3_int64>(encrypted_page_size);
    auto within = static_cast<size_t>(off - page_off);
    auto size = static_cast<size_t>(amt);
    if (within + size > encrypted_page_size) {
        return refuse(SQLITE_IOERR_READ, "read of {} bytes at {} of '{}' crosses a page", amt, off,
                      p->path);
    }
    // SQLite reads the header in small pieces: those go through a whole-page read.
    bool whole = size == encrypted_page_size;
    uint8_t* page = whole ? buf : p->scratch_page(encrypted_page_size);
    auto pgno = static_cast<uint64_t>(page_off) / encrypted_page_size + 1;
    int rc = read_real(p, page, static_cast<int>(encrypted_page_size), page_off);
    if (rc == SQLITE_IOERR_SHORT_READ) {
        sqlite3_int64 file_size = 0;
        rc = real(p)->pMethods->xFileSize(real(p), &file_size);
        std::memset(buf, 0, size);
        if (rc == SQLITE_OK && file_size <= page_off) {
            return SQLITE_IOERR_SHORT_READ; // past the end: SQLite expects zeros
        }
        return refuse(SQLITE_IOERR_DATA, "page {} of '{}' is cut short", pgno, p->path);
    }
    if (rc != SQLITE_OK) {
        return rc;
    }
    if (!p->config->cipher->open(PageKind::database, pgno, 0, page)) {
        std::memset(buf, 0, size);
        return refuse(SQLITE_IOERR_DATA, "page {} of '{}' does not authenticate", pgno, p->path);
    }
    if (!whole) {
        std::memcpy(buf, page + within, size);
    }
    return SQLITE_OK;
}

int write_encrypted_db(PageFile* p, const uint8_t* buf, int amt, sqlite3_int64 off) {
    if (static_cast<size_t>(amt) != encrypted_page_size || off % amt != 0) {
        return refuse(SQLITE_IOERR_WRITE,
                      "encrypted catalog '{}': write of {} bytes at {} is not one whole "
                      "4096-byte page (prepare_protected)",
                      p->path, amt, off);
    }
    // Page 1 carries the page size and reserve: refuse a database not made for this.
    if (off == 0 && (std::memcmp(buf, "SQLite format 3", 16) != 0 || buf[16] != 0x10 ||
                     buf[17] != 0 || buf[20] != encrypted_page_reserve)) {
        return refuse(SQLITE_IOERR_WRITE,
                      "encrypted catalog '{}' must have 4096-byte pages with 40 reserved bytes "
                      "(prepare_protected)",
                      p->path);
    }
    uint8_t* page = p->scratch_page(encrypted_page_size);
    auto pgno = static_cast<uint64_t>(off) / encrypted_page_size + 1;
    p->config->cipher->seal(PageKind::database, pgno, 0, buf, page, *p->nonces);
    return write_real(p, page, amt, off);
}

// The page number SQLite wrote just before a page image in the journal (big-endian).
int journal_pgno(PageFile* p, sqlite3_int64 image_off, uint64_t& pgno) {
    std::array<uint8_t, 4> b{};
    int rc = read_real(p, b.data(), 4, image_off - 4);
    pgno = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    return rc;
}

// Journal records are 4-byte page number, page image, 4-byte checksum, after headers at
// multiples of the sector size (at least 512): images start at offsets 4 mod 8, and
// 4-byte fields at 4 mod 8 are record checksums, unless they lie in a header.
bool is_image(const PageFile* p, int amt, sqlite3_int64 off) {
    const PageFile* db = p->db;
    auto size = static_cast<uint32_t>(amt);
    bool sized =
        db->encrypted() ? size == encrypted_page_size : (db->checked() && size == db->page_size);
    return sized && off % 8 == 4;
}

// Whether a 4-byte field at off is to be masked: at 4 mod 8, with a page image's nonce
// before it, and not a field of a journal header (which starts with the magic).
bool masked_field(PageFile* p, int amt, sqlite3_int64 off) {
    if (!p->db->encrypted() || amt != 4 || off % 8 != 4 || off < 40) {
        return false;
    }
    if (off % 512 < 28) {
        std::array<uint8_t, 8> magic{};
        if (read_real(p, magic.data(), 8, off - off % 512) == SQLITE_OK && magic == journal_magic) {
            return false;
        }
    }
    return true;
}

int mask_field(PageFile* p, uint8_t* field, sqlite3_int64 off) {
    std::array<uint8_t, page_nonce_size> before{};
    int rc = read_real(p, before.data(), static_cast<int>(before.size()), off - 40);
    if (rc != SQLITE_OK) {
        return rc;
    }
    auto mask = p->db->config->cipher->checksum_mask(static_cast<uint64_t>(off), before);
    for (size_t i = 0; i < 4; ++i) {
        field[i] ^= mask[i];
    }
    return SQLITE_OK;
}

int read_journal(PageFile* p, uint8_t* buf, int amt, sqlite3_int64 off) {
    bool image = is_image(p, amt, off), masked = !image && masked_field(p, amt, off);
    int rc = read_real(p, buf, amt, off);
    if (rc != SQLITE_OK) {
        if (rc == SQLITE_IOERR_SHORT_READ && (image || masked)) {
            std::memset(buf, 0, static_cast<size_t>(amt)); // no ciphertext as content
        }
        return rc;
    }
    if (masked) {
        return mask_field(p, buf, off);
    }
    if (!image) {
        return SQLITE_OK;
    }
    uint64_t pgno = 0;
    if ((rc = journal_pgno(p, off, pgno)) != SQLITE_OK) {
        return rc;
    }
    bool ok = p->db->encrypted() ? p->db->config->cipher->open(PageKind::journal, pgno,
                                                               static_cast<uint64_t>(off), buf)
                                 : page_checksum_ok({buf, static_cast<size_t>(amt)}, pgno);
    if (!ok) {
        return refuse(SQLITE_IOERR_DATA, "the page image at {} of '{}' does not {}", off, p->path,
                      p->db->encrypted() ? "authenticate" : "match its checksum");
    }
    return SQLITE_OK;
}

int write_journal(PageFile* p, const uint8_t* buf, int amt, sqlite3_int64 off) {
    if (masked_field(p, amt, off)) {
        std::array<uint8_t, 4> field{};
        std::memcpy(field.data(), buf, 4);
        int rc = mask_field(p, field.data(), off);
        return rc != SQLITE_OK ? rc : write_real(p, field.data(), 4, off);
    }
    if (!is_image(p, amt, off)) {
        int rc = write_real(p, buf, amt, off);
        if (amt == 4) {
            p->last_field_off = rc == SQLITE_OK ? off : -1;
            std::memcpy(p->last_field.data(), buf, 4);
        }
        return rc;
    }
    uint64_t pgno = 0;
    if (p->last_field_off == off - 4) {
        const auto& b = p->last_field;
        pgno = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
    } else if (int rc = journal_pgno(p, off, pgno); rc != SQLITE_OK) {
        return rc;
    }
    auto size = static_cast<size_t>(amt);
    uint8_t* page = p->scratch_page(size);
    if (p->db->encrypted()) {
        p->db->config->cipher->seal(PageKind::journal, pgno, static_cast<uint64_t>(off), buf, page,
                                    *p->nonces);
    } else {
        std::memcpy(page, buf, size);
        put_page_checksum({page, size}, pgno);
    }
    return write_real(p, page, amt, off);
}

} // namespace

void inspect_header(PageFile* p) {
    std::array<uint8_t, 100> header{};
    if (read_real(p, header.data(), static_cast<int>(header.size()), 0) != SQLITE_OK) {
        return; // empty: the first write of page 1 tells
    }
    note_header(p, header.data());
    if (p->page_size == 0 || p->reserve == 8) {
        return;
    }
    // Byte 20 is the one header byte that, altered, would turn checking off: a page 1
    // that checks out with it set back to 8 was checksummed, so the header lies.
    try {
        uint8_t* page = p->scratch_page(p->page_size);
        if (read_real(p, page, static_cast<int>(p->page_size), 0) == SQLITE_OK) {
            page[20] = 8;
            p->tampered = page_checksum_ok({page, p->page_size}, 1);
        }
    } catch (const std::bad_alloc&) { // no check is no worse than before the shim
    }
}

int read_file(PageFile* p, uint8_t* buf, int amt, sqlite3_int64 off) {
    try {
        switch (p->kind) {
        case FileKind::database:
            return p->encrypted() ? read_encrypted_db(p, buf, amt, off)
                                  : read_checksum_db(p, buf, amt, off);
        case FileKind::journal:
            return read_journal(p, buf, amt, off);
        case FileKind::other:
            break;
        }
    } catch (const std::bad_alloc&) { // the scratch page
        return SQLITE_IOERR_NOMEM;
    }
    return read_real(p, buf, amt, off);
}

int write_file(PageFile* p, const uint8_t* buf, int amt, sqlite3_int64 off) {
    try {
        switch (p->kind) {
        case FileKind::database:
            return p->encrypted() ? write_encrypted_db(p, buf, amt, off)
                                  : write_checksum_db(p, buf, amt, off);
        case FileKind::journal:
            return write_journal(p, buf, amt, off);
        case FileKind::other:
            break;
        }
    } catch (const std::bad_alloc&) { // the scratch page
        return SQLITE_IOERR_NOMEM;
    }
    return write_real(p, buf, amt, off);
}

} // namespace barge::vfs
