#include "barge/hash/hash_file.hpp"

#include "barge/hash/pipeline.hpp"
#include "barge/util/error.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/stop.hpp"
#include "barge/util/text.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace barge {

void ByteSink::hole_at(size_t n, int64_t offset) {
    static const std::vector<char> zeros(1 << 20, '\0');
    for (size_t done = 0; done < n;) {
        size_t k = std::min(n - done, zeros.size());
        write_at(zeros.data(), k, offset + static_cast<int64_t>(done));
        done += k;
    }
}

HoleMap::HoleMap(int fd) : m_fd(fd) {
    struct stat st{};
    m_sparse = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
               static_cast<int64_t>(st.st_blocks) * 512 < st.st_size;
    m_size = st.st_size;
}

int64_t HoleMap::run(int64_t pos, int64_t max, bool& hole) {
    if (!m_sparse) {
        hole = false;
        return max;
    }
    if (pos < m_start || pos >= m_end) {
        off_t data = ::lseek(m_fd, pos, SEEK_DATA);
        if (data < 0) {
            // ENXIO: no data after pos (a hole to the end); anything else (a file
            // system without SEEK_DATA): take it all as data.
            m_hole = errno == ENXIO;
            m_start = pos;
            m_end = m_hole ? std::max(m_size, pos + max) : pos + max;
        } else if (data > pos) {
            m_hole = true;
            m_start = pos;
            m_end = data;
        } else {
            off_t end = ::lseek(m_fd, pos, SEEK_HOLE);
            m_hole = false;
            m_start = pos;
            m_end = end > pos ? end : pos + max;
        }
    }
    hole = m_hole;
    return std::min(max, m_end - pos);
}

uint64_t copy_through(HashPipeline& pipeline, int from, int64_t offset, int64_t size,
                      std::string_view from_path, ByteSink* to, int64_t to_offset) {
    HoleMap holes(from);
    int64_t pos = 0;
    while (pos < size) {
        throw_if_stopped(); // a stop abandons a file mid-copy, within a block
        HeldBlock buf(pipeline);
        size_t want = static_cast<size_t>(std::min<int64_t>(size - pos, static_cast<int64_t>(pipeline.block_size())));
        bool hole = false;
        size_t n;
        if (holes.sparse() && holes.run(offset + pos, static_cast<int64_t>(want), hole) ==
                                  static_cast<int64_t>(want) && hole) {
            // A whole block of hole reads as zeros: nothing to read (but no further
            // than the end of the file, as a read would stop).
            n = static_cast<size_t>(std::clamp<int64_t>(holes.size() - (offset + pos), 0,
                                                        static_cast<int64_t>(want)));
            std::memset(buf.get(), 0, n);
        } else {
            try {
                n = pread_full(from, buf.get(), want, offset + pos, from_path);
            } catch (const SystemError& e) {
                throw ReadError(e.err(), "read", from_path);
            }
        }
        if (to && n > 0) {
            // Data runs are written, hole runs left as holes.
            for (size_t done = 0; done < n;) {
                int64_t len = holes.run(offset + pos + static_cast<int64_t>(done),
                                        static_cast<int64_t>(n - done), hole);
                auto k = static_cast<size_t>(len);
                if (hole) {
                    to->hole_at(k, to_offset + pos + static_cast<int64_t>(done));
                } else {
                    to->write_at(buf.get() + done, k, to_offset + pos + static_cast<int64_t>(done));
                }
                done += k;
            }
        }
        buf.submit(n);
        pos += static_cast<int64_t>(n);
        if (n < want) {
            break;
        }
    }
    return static_cast<uint64_t>(pos);
}

size_t direct_read_length(int64_t size, int64_t pos, size_t block) {
    constexpr int64_t page = 4096;
    int64_t rest = std::max<int64_t>(size - pos, 1);
    return static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(block), (rest + page - 1) / page * page));
}

struct VerifyFd::Impl {
    Fd fd;
};

int VerifyFd::fd() const {
    return impl->fd.get();
}

namespace {
NotRegularFile not_regular(std::string_view display_path) {
    return NotRegularFile(fmt::format("'{}' is not a regular file", escape_bytes(display_path)));
}
} // namespace

void refuse_if_not_regular(int dirfd, const std::string& name, std::string_view display_path) {
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
        throw not_regular(display_path);
    }
}

VerifyFd open_for_verify(int dirfd, const std::string& name, std::string_view display_path) {
    VerifyFd v;
    v.impl = std::make_shared<VerifyFd::Impl>();
    // O_NONBLOCK: a FIFO at the name returns at once (it changes nothing for a
    // regular file's reads), and the fstat below refuses it.
    struct stat st {};
    constexpr int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    int fd = ::openat(dirfd, name.c_str(), flags | O_DIRECT);
    if (fd >= 0) {
        v.direct = true;
    } else if (errno == EINVAL) {
        // FUSE (exfat-fuse), tmpfs: no O_DIRECT. Read normally, cache dropped first.
        fd = ::openat(dirfd, name.c_str(), flags);
    }
    if (fd < 0) {
        throw_errno("open", display_path);
    }
    v.impl->fd = Fd(fd);
    if (::fstat(fd, &st) != 0) {
        throw_errno("stat", display_path);
    }
    if (!S_ISREG(st.st_mode)) {
        throw not_regular(display_path);
    }
    if (!v.direct) {
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    return v;
}

Digest hash_for_verify(const VerifyFd& f, HashPipeline& pipeline, uint64_t& bytes_read,
                       std::string_view path) {
    if (!f.direct) {
        Digest d = hash_fd(f.fd(), pipeline, bytes_read, path);
        ::posix_fadvise(f.fd(), 0, 0, POSIX_FADV_DONTNEED); // leave no cache behind either
        return d;
    }
    // O_DIRECT: aligned buffer, aligned offsets, whole blocks; a short read is the end.
    pipeline.reset();
    bytes_read = 0;
    struct stat st{};
    if (::fstat(f.fd(), &st) != 0) {
        throw_errno("stat", path);
    }
    for (;;) {
        throw_if_stopped();
        HeldBlock buf(pipeline);
        size_t want = direct_read_length(st.st_size, static_cast<int64_t>(bytes_read), pipeline.block_size());
        ssize_t r = ::pread(f.fd(), buf.get(), want, static_cast<off_t>(bytes_read));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            throw ReadError(errno, "read", path);
        }
        buf.submit(static_cast<size_t>(r));
        bytes_read += static_cast<uint64_t>(r);
        if (static_cast<size_t>(r) < want) {
            return pipeline.finish();
        }
    }
}

Digest hash_fd(int fd, HashPipeline& pipeline, uint64_t& bytes_read, std::string_view path) {
    pipeline.reset();
    bytes_read = copy_through(pipeline, fd, 0, INT64_MAX / 2, path);
    return pipeline.finish();
}

} // namespace barge
