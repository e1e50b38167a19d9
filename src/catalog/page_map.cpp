#include "barge/catalog/page_map.hpp"

#include "barge/hash/blake2b.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/le_bytes.hpp"
#include "barge/util/path.hpp"
#include "barge/util/system.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge {

namespace {

constexpr char map_magic[8] = {'B', 'R', 'G', 'P', 'M', 'A', 'P', '2'};
// Steps whose ids the map keeps: a copy older than that is made whole.
constexpr size_t kept_steps = 512;


// What the map records of the catalog file, to know it is still the same file.
// Size and mtime, and, for file systems with coarse timestamps (FAT's 2 s, exFAT's
// 10 ms) or a clock set back, the inode and SQLite's file change counter (header
// bytes 24-27, bumped by every transaction that writes).
struct FileIdentity {
    int64_t size = -1;
    int64_t mtime_ns = -1;
    uint64_t ino = 0;
    uint32_t change_counter = 0;
    bool operator==(const FileIdentity&) const = default;
};

FileIdentity identity_of(const std::string& path) {
    Fd fd = open_or_throw(path, O_RDONLY | O_CLOEXEC);
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno("stat", path);
    }
    std::array<unsigned char, 4> counter{};
    if (::pread(fd.get(), counter.data(), counter.size(), 24) != 4) {
        counter = {};
    }
    return {static_cast<int64_t>(st.st_size),
            static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec,
            static_cast<uint64_t>(st.st_ino),
            (uint32_t{counter[0]} << 24) | (uint32_t{counter[1]} << 16) |
                (uint32_t{counter[2]} << 8) | counter[3]};
}

// The page size in a database header, or 0. A file without a plain header whose
// size is a whole number of 4096-byte pages is an encrypted catalog: its pages are
// always 4096 bytes (catalog/vfs.hpp).
uint32_t header_page_size(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    std::array<unsigned char, 100> h{};
    if (!fd || ::pread(fd.get(), h.data(), h.size(), 0) != static_cast<ssize_t>(h.size())) {
        return 0;
    }
    if (std::memcmp(h.data(), "SQLite format 3", 16) != 0) {
        struct stat st{};
        bool pages = ::fstat(fd.get(), &st) == 0 && st.st_size > 0 && st.st_size % 4096 == 0;
        return pages ? 4096 : 0;
    }
    uint32_t size = (uint32_t{h[16]} << 8) | h[17];
    return size == 1 ? 65536 : size;
}

// magic epoch step page_size steps-kept pages size mtime inode change-counter pad
constexpr size_t header_size = 8 + 8 + 8 + 4 + 4 + 8 + 8 + 8 + 8 + 4 + 4;

uint64_t random_u64() {
    std::string r = random_bytes(8);
    return read_le64(r.data());
}

} // namespace

std::string PageMap::path_for(const std::string& db_path) {
    return db_path + ".pages";
}

PageMap::PageMap(std::string db_path) : m_db_path(std::move(db_path)), m_path(path_for(m_db_path)) {
    if (!load()) {
        start_epoch();
    }
}

bool PageMap::load() {
    std::string raw;
    try {
        raw = read_file(m_path);
    } catch (const SystemError& e) {
        if (e.err() != ENOENT) {
            spdlog::info("page map '{}' unreadable ({}): endpoint copies are made whole", m_path,
                         e.what());
        }
        return false;
    }
    auto untrusted = [&](const char* why) {
        spdlog::info("page map '{}' {}: endpoint copies are made whole", m_path, why);
        return false;
    };
    if (raw.size() < header_size + 64 || std::memcmp(raw.data(), map_magic, 8) != 0) {
        return untrusted("is not a page map");
    }
    std::string_view body(raw.data(), raw.size() - 64);
    Digest sum = blake2b(body);
    if (std::memcmp(sum.data(), raw.data() + body.size(), 64) != 0) {
        return untrusted("fails its checksum");
    }
    const char* p = raw.data() + 8;
    uint64_t epoch = read_le64(p), step = read_le64(p + 8);
    uint32_t page_size = read_le32(p + 16);
    uint32_t kept = read_le32(p + 20);
    uint64_t pages = read_le64(p + 24);
    FileIdentity recorded{static_cast<int64_t>(read_le64(p + 32)),
                          static_cast<int64_t>(read_le64(p + 40)), read_le64(p + 48),
                          read_le32(p + 56)};
    if (body.size() != header_size + 16 * uint64_t{kept} + 4 * pages || page_size == 0 ||
        kept == 0 || kept > kept_steps) {
        return untrusted("has the wrong length");
    }
    if (identity_of(m_db_path) != recorded || header_page_size(m_db_path) != page_size ||
        static_cast<uint64_t>(recorded.size) / page_size != pages) {
        return untrusted("describes another state of the catalog");
    }
    m_epoch = epoch;
    m_step = step;
    m_page_size = page_size;
    const char* ids = raw.data() + header_size;
    m_step_ids.clear();
    for (uint32_t i = 0; i < kept; ++i) {
        m_step_ids.emplace_back(read_le64(ids + 16 * i), read_le64(ids + 16 * i + 8));
    }
    if (m_step_ids.back().first != step) {
        return untrusted("does not know its own step");
    }
    const char* versions = ids + 16 * uint64_t{kept};
    m_versions.resize(pages);
    for (uint64_t i = 0; i < pages; ++i) {
        m_versions[i] = read_le32(versions + 4 * i);
    }
    return true;
}

void PageMap::start_epoch() {
    m_epoch = random_u64();
    m_step = 1;
    m_step_ids = {{1, random_u64()}};
    m_unsealed = true; // written at the next seal even if nothing else changes
    uint32_t ps = header_page_size(m_db_path);
    m_page_size = ps ? ps : 4096;
    read_catalog_size();
    std::fill(m_versions.begin(), m_versions.end(), 1);
    // The copies made whole in this epoch must find it next time. A stale map file
    // may still be there: the first write removes it (m_removed is false).
}

void PageMap::read_catalog_size() {
    auto id = identity_of(m_db_path);
    m_versions.resize(static_cast<uint64_t>(id.size) / m_page_size, static_cast<uint32_t>(m_step));
}

uint64_t PageMap::step_id() const {
    return m_step_ids.back().second;
}

bool PageMap::knows(uint64_t step, uint64_t id) const {
    return std::any_of(m_step_ids.begin(), m_step_ids.end(),
                       [&](const auto& s) { return s.first == step && s.second == id; });
}

std::vector<uint64_t> PageMap::written_since(uint64_t since) const {
    std::vector<uint64_t> out;
    for (uint64_t i = 0; i < m_versions.size(); ++i) {
        if (m_versions[i] > since) {
            out.push_back(i + 1);
        }
    }
    return out;
}

bool PageMap::before_write() noexcept {
    if (!m_removed) {
        // The map stops describing the file with this write: it must be gone,
        // durably, before the write can land. When that fails the write is refused
        // (SQLite then fails the statement and rolls back); the next one tries again.
        if (!remove_file()) {
            return false;
        }
    }
    m_unsealed = true;
    return true;
}

bool PageMap::remove_file() noexcept {
    try {
        forget(m_db_path);
    } catch (const std::exception&) {
        return false;
    }
    m_removed = true;
    return true;
}

void PageMap::forget(const std::string& db_path) {
    std::string path = path_for(db_path);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw_errno("unlink", path);
    }
    fsync_dir(parent_path(path));
}

void PageMap::wrote(uint64_t first, uint64_t last) noexcept {
    if (first == 0) {
        first = 1;
    }
    // A truncation or an unknown page size: everything from first on.
    constexpr uint64_t open_end = UINT64_MAX;
    try {
        if (last == open_end || last - first > (uint64_t{1} << 32)) {
            m_dirty_from = std::min(m_dirty_from, first);
            return;
        }
        if (m_dirty.size() < last) {
            m_dirty.resize(last);
        }
        for (uint64_t p = first; p <= last; ++p) {
            m_dirty[p - 1] = true;
        }
    } catch (const std::bad_alloc&) {
        m_dirty_from = 1; // everything: never less than what was written
    }
}

void PageMap::seal() {
    if (!m_unsealed) {
        return;
    }
    uint64_t step = m_step + 1;
    uint32_t ps = header_page_size(m_db_path);
    if (ps != 0 && ps != m_page_size) {
        // VACUUM changed the page size: every page is new.
        m_page_size = ps;
        m_dirty_from = 1;
    }
    auto id = identity_of(m_db_path);
    uint64_t pages = static_cast<uint64_t>(id.size) / m_page_size;
    m_versions.resize(pages, static_cast<uint32_t>(step));
    for (uint64_t i = 0; i < pages; ++i) {
        if ((i < m_dirty.size() && m_dirty[i]) || i + 1 >= m_dirty_from) {
            m_versions[i] = static_cast<uint32_t>(step);
        }
    }
    // A fresh random id for the new step: a copy made from another history of this
    // catalog (an image restored, then written) never matches a step of this one.
    auto step_ids = m_step_ids;
    step_ids.emplace_back(step, random_u64());
    if (step_ids.size() > kept_steps) {
        step_ids.erase(step_ids.begin(), step_ids.end() - kept_steps);
    }
    std::string out(map_magic, 8);
    append_le64(out, m_epoch);
    append_le64(out, step);
    append_le32(out, m_page_size);
    append_le32(out, static_cast<uint32_t>(step_ids.size()));
    append_le64(out, pages);
    append_le64(out, static_cast<uint64_t>(id.size));
    append_le64(out, static_cast<uint64_t>(id.mtime_ns));
    append_le64(out, id.ino);
    append_le32(out, id.change_counter);
    append_le32(out, 0);
    out.reserve(out.size() + 16 * step_ids.size() + 4 * pages + 64);
    for (const auto& [n, sid] : step_ids) {
        append_le64(out, n);
        append_le64(out, sid);
    }
    for (uint32_t v : m_versions) {
        append_le32(out, v);
    }
    Digest sum = blake2b(out);
    out.append(reinterpret_cast<const char*>(sum.data()), sum.size());
    try {
        write_file_atomic(m_path, out);
    } catch (const Error&) {
        // It may have landed (a failed directory sync after the rename): never leave
        // a map that the writes still to come would not remove first.
        m_removed = false;
        remove_file();
        throw;
    }
    m_step = step;
    m_step_ids = std::move(step_ids);
    m_dirty.clear();
    m_dirty_from = UINT64_MAX;
    m_unsealed = false;
    m_removed = false;
}

} // namespace barge
