#include "barge/catalog/replica.hpp"

#include "barge/catalog/page_codec.hpp"
#include "barge/catalog/vfs.hpp"

#include "barge/hash/blake2b.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/le_bytes.hpp"
#include "barge/util/text.hpp"

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <optional>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace barge {

std::string replica_state_path(const std::string& copy_path) {
    return copy_path + ".state";
}

namespace {

constexpr char patch_magic[8] = {'B', 'R', 'G', 'P', 'A', 'T', 'C', '2'};
// magic epoch step step-id size page_size count
constexpr size_t patch_header = 8 + 8 + 8 + 8 + 8 + 4 + 4;


// COPY.state: which state of the drive's catalog the copy holds.
struct ReplicaState {
    uint64_t epoch = 0, step = 0, step_id = 0;
    int64_t size = 0;
};

std::string state_path(const std::string& copy) {
    return replica_state_path(copy);
}
std::string patch_path(const std::string& copy) {
    return copy + ".patch";
}

std::optional<ReplicaState> read_state(const std::string& copy) {
    Fd fd(::open(state_path(copy).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return std::nullopt;
    }
    char buf[256] = {};
    ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
    if (n <= 0) {
        return std::nullopt;
    }
    ReplicaState s;
    unsigned long long epoch = 0, step = 0, id = 0;
    long long size = 0;
    if (std::sscanf(buf, "barge-replica 2 epoch %llx step %llu id %llx size %lld", &epoch, &step,
                    &id, &size) != 4) {
        return std::nullopt; // none, another format, or damaged: the copy is made whole
    }
    s.epoch = epoch;
    s.step = step;
    s.step_id = id;
    s.size = size;
    return s;
}

void write_state(const std::string& copy, const ReplicaState& s) {
    write_file_atomic(state_path(copy),
                      fmt::format("barge-replica 2 epoch {:016x} step {} id {:016x} size {}\n",
                                  s.epoch, s.step, s.step_id, s.size));
}

int64_t size_of(const std::string& path) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
        return -1;
    }
    return static_cast<int64_t>(st.st_size);
}

// The whole catalog, byte for byte, into copy (through a synced temporary file).
} // namespace

namespace {

// The reserved bytes per page of the database file at fd (its header, byte 20);
// -1 without a plain header (an encrypted catalog: its pages are authenticated
// when a copy is opened, not here).
int reserve_of(int fd, const std::string& path) {
    unsigned char head[21] = {};
    if (pread_full(fd, reinterpret_cast<char*>(head), sizeof head, 0, path) != sizeof head ||
        std::memcmp(head, "SQLite format 3", 16) != 0) {
        return -1;
    }
    return head[20];
}

// A page read raw from the catalog file is copied only when its checksum holds,
// or, encrypted, when it authenticates: a page damaged on the drive must never
// replace a good page at an endpoint. The lock-byte page is neither: SQLite never
// writes it (page_codec.hpp), and it is copied as it is.
void check_page(const char* page, size_t size, uint64_t pgno, int reserve, const PageCipher* cipher,
                const std::string& db_path) {
    if (pgno == lock_byte_page(static_cast<uint32_t>(size))) {
        return;
    }
    bool bad = false;
    if (cipher) {
        std::array<uint8_t, encrypted_page_size> copy{};
        bad = size != encrypted_page_size;
        if (!bad) {
            std::memcpy(copy.data(), page, size);
            bad = !cipher->open(PageKind::database, pgno, 0, copy.data());
        }
    } else if (reserve == PageProtection::checksum_reserve) {
        bad = !page_checksum_ok({reinterpret_cast<const uint8_t*>(page), size}, pgno);
    }
    if (bad) {
        throw DamagedPage(fmt::format("catalog '{}' is corrupt: page {} fails its {} "
                                       "(while it was copied)",
                                       db_path, pgno, cipher ? "authentication" : "checksum"));
    }
}

} // namespace

uint64_t copy_database_file(const std::string& db_path, const std::string& copy, uint32_t page_size,
                            const PageCipher* cipher) {
    PendingFile tmp(copy + ".tmp");
    ::unlink(tmp.path().c_str());
    Fd in = open_or_throw(db_path, O_RDONLY | O_CLOEXEC);
    int reserve = page_size ? reserve_of(in.get(), db_path) : -1;
    uint64_t total = 0;
    {
        Fd out = open_or_throw(tmp.path(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        std::vector<char> buf(1 << 20);
        for (;;) {
            size_t n = read_full(in.get(), buf.data(), buf.size(), db_path);
            if (page_size) {
                for (size_t off = 0; off + page_size <= n; off += page_size) {
                    check_page(buf.data() + off, page_size, (total + off) / page_size + 1, reserve,
                               cipher, db_path);
                }
            }
            write_full(out.get(), buf.data(), n, tmp.path());
            total += n;
            if (n < buf.size()) {
                break;
            }
        }
        if (::fsync(out.get()) != 0) {
            throw_errno("fsync", tmp.path());
        }
        out.close(tmp.path());
    }
    tmp.keep();
    rename_into_place(tmp.path(), copy);
    return total;
}

namespace {

// Applies a complete patch file to copy and records its state; false when the
// patch is not a complete, intact patch (then nothing was touched). A patch
// left behind (its removal failed) takes the copy from an older step of its
// history to its own: only_forward refuses it for a copy known to be past that
// (made whole since, in another epoch, or patched again), which it once turned
// into a mix of two states that recover then installed.
bool apply_patch(const std::string& patch, const std::string& copy, bool only_forward) {
    Fd in(::open(patch.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in) {
        if (errno == ENOENT) {
            return false;
        }
        throw_errno("open", patch); // a complete patch must never be thrown away unread
    }
    std::string head(patch_header, '\0');
    if (read_full(in.get(), head.data(), head.size(), patch) != head.size() ||
        std::memcmp(head.data(), patch_magic, 8) != 0) {
        return false;
    }
    ReplicaState target{read_le64(head.data() + 8), read_le64(head.data() + 16),
                        read_le64(head.data() + 24), static_cast<int64_t>(read_le64(head.data() + 32))};
    uint32_t page_size = read_le32(head.data() + 40);
    uint32_t count = read_le32(head.data() + 44);
    if (page_size == 0 || page_size > 65536) {
        return false;
    }
    if (only_forward) {
        auto at = read_state(copy);
        if (at && (at->epoch != target.epoch || at->step >= target.step)) {
            return false;
        }
    }
    // First pass: the checksum over everything, so a torn patch is never applied.
    Blake2b sum;
    sum.update(head);
    std::vector<char> rec(8 + page_size);
    for (uint32_t i = 0; i < count; ++i) {
        if (read_full(in.get(), rec.data(), rec.size(), patch) != rec.size()) {
            return false;
        }
        sum.update(rec.data(), rec.size());
    }
    std::array<char, 64> expected{};
    if (read_full(in.get(), expected.data(), expected.size(), patch) != expected.size()) {
        return false;
    }
    Digest got = sum.final();
    if (std::memcmp(got.data(), expected.data(), 64) != 0) {
        return false;
    }
    // Second pass: into the copy.
    Fd out = open_or_throw(copy, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (::lseek(in.get(), static_cast<off_t>(patch_header), SEEK_SET) < 0) {
        throw_errno("seek", patch);
    }
    for (uint32_t i = 0; i < count; ++i) {
        read_full(in.get(), rec.data(), rec.size(), patch);
        uint64_t pgno = read_le64(rec.data());
        if (pgno == 0) {
            return false;
        }
        off_t at = static_cast<off_t>((pgno - 1) * page_size);
        ssize_t w = ::pwrite(out.get(), rec.data() + 8, page_size, at);
        if (w != static_cast<ssize_t>(page_size)) {
            throw SystemError(w < 0 ? errno : EIO, "write", copy);
        }
    }
    if (::ftruncate(out.get(), static_cast<off_t>(target.size)) != 0) {
        throw_errno("truncate", copy);
    }
    if (::fsync(out.get()) != 0) {
        throw_errno("fsync", copy);
    }
    out.close(copy);
    write_state(copy, target);
    return true;
}

} // namespace

void settle_replica(const std::string& copy) {
    ::unlink((copy + ".tmp").c_str());
    ::unlink((patch_path(copy) + ".tmp").c_str());
    std::string patch = patch_path(copy);
    if (size_of(patch) < 0) {
        return;
    }
    if (size_of(copy) >= 0 && apply_patch(patch, copy, true)) {
        spdlog::info("'{}': finished an interrupted update", escape_bytes(copy));
    }
    ::unlink(patch.c_str());
}

ReplicaUpdate update_replica(const std::string& db_path, const PageMap& map,
                             const std::string& copy, const PageCipher* cipher) {
    settle_replica(copy);
    ReplicaUpdate r;
    auto state = read_state(copy);
    int64_t copy_size = size_of(copy);
    std::vector<uint64_t> pages;
    // The copy's step must be one of this catalog's history (same epoch, same
    // random id at that step), not of another history that reached the same number.
    bool usable = state && state->epoch == map.epoch() && state->step <= map.step() &&
                  map.knows(state->step, state->step_id) &&
                  copy_size >= 0 && copy_size == state->size &&
                  static_cast<uint64_t>(copy_size) % map.page_size() == 0;
    if (usable) {
        pages = map.written_since(state->step);
        usable = pages.size() * 2 <= map.pages() + 1; // else a whole copy is as cheap
    }
    int64_t db_size = static_cast<int64_t>(map.pages() * map.page_size());
    if (!usable) {
        r.whole = true;
        r.bytes_written = copy_database_file(db_path, copy, map.page_size(), cipher);
        r.pages = map.pages();
        write_state(copy, {map.epoch(), map.step(), map.step_id(), static_cast<int64_t>(r.bytes_written)});
        return r;
    }
    if (pages.empty() && copy_size == db_size) {
        if (state->step != map.step()) {
            write_state(copy, {map.epoch(), map.step(), map.step_id(), db_size});
        }
        return r;
    }
    // The patch: header, then (page number, page) for each page, then a checksum.
    std::string patch = patch_path(copy);
    PendingFile tmp(patch + ".tmp");
    {
        Fd in = open_or_throw(db_path, O_RDONLY | O_CLOEXEC);
        int reserve = reserve_of(in.get(), db_path);
        Fd out = open_or_throw(tmp.path(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
        std::string head(patch_magic, 8);
        append_le64(head, map.epoch());
        append_le64(head, map.step());
        append_le64(head, map.step_id());
        append_le64(head, static_cast<uint64_t>(db_size));
        uint32_t ps = map.page_size();
        auto count = static_cast<uint32_t>(pages.size());
        append_le32(head, ps);
        append_le32(head, count);
        Blake2b sum;
        sum.update(head);
        write_full(out.get(), head.data(), head.size(), tmp.path());
        std::string rec;
        for (uint64_t pgno : pages) {
            rec.clear();
            append_le64(rec, pgno);
            rec.resize(8 + ps);
            size_t n = pread_full(in.get(), rec.data() + 8, ps, static_cast<long long>((pgno - 1) * ps),
                                  db_path);
            if (n != ps) {
                throw CatalogError(fmt::format("catalog '{}' ended inside page {} while its "
                                               "copy was updated",
                                               db_path, pgno));
            }
            check_page(rec.data() + 8, ps, pgno, reserve, cipher, db_path);
            sum.update(rec);
            write_full(out.get(), rec.data(), rec.size(), tmp.path());
        }
        Digest d = sum.final();
        write_full(out.get(), d.data(), d.size(), tmp.path());
        if (::fsync(out.get()) != 0) {
            throw_errno("fsync", tmp.path());
        }
        out.close(tmp.path());
    }
    tmp.keep();
    rename_into_place(tmp.path(), patch);
    if (!apply_patch(patch, copy, false)) {
        ::unlink(patch.c_str());
        throw CatalogError(fmt::format("the update of '{}' does not read back as written",
                                       escape_bytes(patch)));
    }
    ::unlink(patch.c_str());
    r.pages = pages.size();
    r.bytes_written = 2 * pages.size() * (map.page_size() + 8);
    return r;
}

} // namespace barge
