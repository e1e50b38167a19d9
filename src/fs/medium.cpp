#include "barge/fs/medium.hpp"

#include "barge/fs/dir.hpp"
#include "barge/fs/durable.hpp"
#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/system.hpp"
#include "barge/util/text.hpp"

#include <cerrno>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <utility>

namespace barge {

Medium::Medium(Fd dir, std::string display, OnFailure on_failure)
    : m_dir(std::move(dir)), m_display(std::move(display)), m_on_failure(on_failure),
      m_fuse(on_fuse(m_dir.get())) {}

std::string Medium::display(std::string_view name) const {
    return join_path(m_display, name);
}

void Medium::fail(int err, std::string_view operation, std::string_view path) const {
    if (m_on_failure == OnFailure::stop_run) {
        throw MediumError(err, operation, path);
    }
    throw SystemError(err, operation, path);
}

TempFile Medium::create(std::string_view prefix, std::string_view suffix, unsigned mode) {
    std::string name = std::string(prefix) + random_hex(8) + std::string(suffix);
    int fd = ::openat(m_dir.get(), name.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        fail(errno, "create", display(name));
    }
    return TempFile(*this, Fd(fd), std::move(name), true);
}

TempFile Medium::open_kept(const std::string& name, unsigned mode) {
    int fd = ::openat(m_dir.get(), name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        fail(errno, "open", display(name));
    }
    return TempFile(*this, Fd(fd), name, false);
}

TempFile Medium::create_symlink(const std::string& target) {
    std::string name = "tmp-" + random_hex(8);
    if (::symlinkat(target.c_str(), m_dir.get(), name.c_str()) != 0) {
        fail(errno, "symlink", display(name));
    }
    return TempFile(*this, Fd(), std::move(name), true);
}

std::optional<TempFile> Medium::create_node(unsigned type, uint64_t rdev) {
    std::string name = "tmp-" + random_hex(8);
    int made = ::mknodat(m_dir.get(), name.c_str(), type | 0600, rdev);
    int err = errno;
    struct stat st{};
    bool present = ::fstatat(m_dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (made == 0 && present && (st.st_mode & S_IFMT) == type) {
        return TempFile(*this, Fd(), std::move(name), true);
    }
    if (present && (made == 0 || err != EEXIST)) {
        ::unlinkat(m_dir.get(), name.c_str(), 0); // made, but not what was asked for
        return std::nullopt;
    }
    if (made == 0) {
        err = ENOENT;
    }
    if (err == EPERM || err == EINVAL || err == ENOTSUP || err == EOPNOTSUPP) {
        return std::nullopt;
    }
    fail(err, "mknod", display(name));
}

void Medium::remove_leftovers(std::string_view prefix) {
    for (const auto& name : read_dir_names(m_dir.get(), m_display)) {
        if (starts_with(name, prefix)) {
            ::unlinkat(m_dir.get(), name.c_str(), 0);
        }
    }
}

void Medium::written_barrier() {
    if (m_fuse) {
        return; // each file was fdatasynced when it was finished
    }
    if (::syncfs(m_dir.get()) != 0) {
        throw MediumError(errno, "syncfs", m_display);
    }
}

void Medium::fsync_dirs(const RenamedDirs& dirs, const std::string& display) {
    for (const auto& [key, d] : dirs) {
        if (::fsync(d.get()) != 0) {
            throw MediumError(errno, "fsync", display);
        }
    }
}

void Medium::renamed_barrier() {
    if (!m_fuse) {
        if (::syncfs(m_dir.get()) != 0) {
            throw MediumError(errno, "syncfs", m_display);
        }
        return;
    }
    RenamedDirs dirs;
    {
        std::lock_guard lock(m_mutex);
        dirs = std::exchange(m_renamed_dirs, {});
    }
    fsync_dirs(dirs, m_display);
}

void Medium::renamed_into(int dirfd) {
    if (!m_fuse) {
        return;
    }
    struct stat st{};
    if (::fstat(dirfd, &st) != 0) {
        fail(errno, "stat", m_display);
    }
    std::lock_guard lock(m_mutex);
    if (m_renamed_dirs.contains({st.st_dev, st.st_ino})) {
        return;
    }
    if (m_renamed_dirs.size() >= max_held_dirs) {
        // Part of the next barrier, done now: the renames so far become durable
        // a little earlier, and no more than max_held_dirs descriptors are held.
        fsync_dirs(m_renamed_dirs, m_display);
        m_renamed_dirs.clear();
    }
    int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0) {
        fail(errno, "dup", m_display);
    }
    m_renamed_dirs.emplace(std::pair{st.st_dev, st.st_ino}, Fd(dup));
}

TempFile::TempFile(Medium& medium, Fd fd, std::string name, bool owned)
    : m_medium(&medium), m_owned(owned), m_fd(std::move(fd)), m_name(std::move(name)) {}

TempFile::TempFile(TempFile&& other) noexcept
    : m_medium(std::exchange(other.m_medium, nullptr)), m_owned(other.m_owned),
      m_fd(std::move(other.m_fd)), m_name(std::move(other.m_name)),
      m_trail(std::move(other.m_trail)), m_written(other.m_written) {}

TempFile& TempFile::operator=(TempFile&& other) noexcept {
    if (this != &other) {
        release();
        m_medium = std::exchange(other.m_medium, nullptr);
        m_owned = other.m_owned;
        m_fd = std::move(other.m_fd);
        m_name = std::move(other.m_name);
        m_trail = std::move(other.m_trail);
        m_written = other.m_written;
    }
    return *this;
}

TempFile::~TempFile() {
    release();
}

void TempFile::release() noexcept {
    if (m_owned) {
        discard();
    } else {
        keep();
    }
}

std::string TempFile::display() const {
    return m_medium ? m_medium->display(m_name) : m_name;
}

void TempFile::follow(TrailingVerifier& verifier) {
    if (m_medium->fuse()) {
        return; // no O_DIRECT: re-read after the barrier
    }
    try {
        m_trail = verifier.follow(m_medium->dirfd(), m_name, display());
    } catch (const SystemError& e) {
        m_medium->fail(e.err(), "open", display());
    }
}

void TempFile::write_at(const char* buf, size_t n, int64_t offset) {
    size_t done = 0;
    while (done < n) {
        ssize_t w = ::pwrite(m_fd.get(), buf + done, n - done,
                             static_cast<off_t>(offset + static_cast<int64_t>(done)));
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            m_medium->fail(errno, "write", display());
        }
        done += static_cast<size_t>(w);
    }
    m_written = std::max(m_written, offset + static_cast<int64_t>(n));
    m_trail.written(m_written);
}

void TempFile::hole_at(size_t n, int64_t offset) {
    int64_t end = offset + static_cast<int64_t>(n);
    struct stat st{};
    if (::fstat(m_fd.get(), &st) != 0) {
        m_medium->fail(errno, "stat", display());
    }
    // Within what the file already holds (an assembly file kept from an earlier
    // run, a piece written again): the range must read as zeros, so a hole is
    // punched there, or zeros written where the file system cannot.
    int64_t overlap_end = std::min<int64_t>(end, st.st_size);
    if (offset < overlap_end &&
        ::fallocate(m_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset,
                    overlap_end - offset) != 0) {
        ByteSink::hole_at(static_cast<size_t>(overlap_end - offset), offset);
    }
    // Past its end: extended, never shortened (pieces after this one may be there).
    if (end > st.st_size && ::ftruncate(m_fd.get(), end) != 0) {
        m_medium->fail(errno, "extend", display());
    }
    m_written = std::max(m_written, end);
    m_trail.written(m_written);
}

bool TempFile::clone_from(int src_fd, int64_t size) {
    if (m_written != 0 || ::ioctl(m_fd.get(), FICLONE, src_fd) != 0) {
        return false; // EOPNOTSUPP, EXDEV, EINVAL: copied instead
    }
    m_written = size;
    m_trail.written(m_written);
    return true;
}

void TempFile::truncate(int64_t size) {
    if (::ftruncate(m_fd.get(), size) != 0) {
        m_medium->fail(errno, "truncate", display());
    }
}

void TempFile::sync() {
    if (::fdatasync(m_fd.get()) != 0) {
        m_medium->fail(errno, "fdatasync", display());
    }
}

void TempFile::finish() {
    if (m_fd) {
        if (m_medium->fuse()) {
            // syncfs may not reach a FUSE file system's device (docs/durability.md):
            // data and metadata (mode, mtime) are synced file by file.
            if (::fsync(m_fd.get()) != 0) {
                m_medium->fail(errno, "fsync", display());
            }
        } else if (m_written >= start_writeback_from) {
            start_writeback(m_fd.get()); // the batch's barrier stays the guarantee
        }
    }
    m_trail.close();
    if (m_fd) {
        // close(2) can report a write error the file system deferred (EIO, ENOSPC).
        if (::close(m_fd.release()) != 0 && errno != EINTR) {
            m_medium->fail(errno, "close", display());
        }
    }
}

Digest TempFile::read_back(HashPipeline& pipe, uint64_t& bytes) {
    try {
        if (m_trail) {
            return m_trail.digest(bytes);
        }
        // From the medium: O_DIRECT, or the page cache dropped first (durability.md).
        VerifyFd fd = open_for_verify(m_medium->dirfd(), m_name, display());
        return hash_for_verify(fd, pipe, bytes, display());
    } catch (const SystemError& e) {
        m_medium->fail(e.err(), "read back", display());
    }
}

std::optional<size_t> TempFile::queue_read_back(DirectBatch& batch, int64_t size) const {
    if (!m_medium || m_trail || m_medium->fuse()) {
        return std::nullopt;
    }
    return batch.add(m_medium->dirfd(), m_name, size);
}

Digest TempFile::read_back(HashPipeline& pipe, uint64_t& bytes, DirectBatch& batch,
                           std::optional<size_t> ticket) {
    if (ticket && !m_trail) {
        if (auto read = batch.take(*ticket)) {
            return hash_bytes(pipe, *read, bytes);
        }
    }
    return read_back(pipe, bytes);
}

void TempFile::commit(int dirfd, const std::string& name, std::string_view display_path) {
    if (::renameat(m_medium->dirfd(), m_name.c_str(), dirfd, name.c_str()) != 0) {
        if (errno == EXDEV) {
            m_medium->fail(EXDEV,
                           "rename (the directory is on another file system than " +
                               m_medium->display() + ")",
                           display_path);
        }
        m_medium->fail(errno, "rename", display_path);
    }
    renamed(dirfd);
}

void TempFile::renamed(int dirfd) {
    // Given up first: a throw below must not remove what stands at the old name.
    Medium* medium = std::exchange(m_medium, nullptr);
    m_name.clear();
    medium->renamed_into(dirfd);
}

void TempFile::keep() noexcept {
    m_trail.abandon();
    m_fd = Fd();
    m_medium = nullptr;
}

void TempFile::discard() noexcept {
    m_trail.abandon();
    m_fd = Fd();
    if (m_medium && !m_name.empty()) {
        ::unlinkat(m_medium->dirfd(), m_name.c_str(), 0);
    }
    m_medium = nullptr;
}

} // namespace barge
