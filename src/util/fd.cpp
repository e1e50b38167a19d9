#include "barge/util/fd.hpp"

#include "barge/util/error.hpp"

#include <cerrno>
#include <fcntl.h>
#include <unistd.h>

namespace barge {

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = std::exchange(other.m_fd, -1);
    }
    return *this;
}

Fd::~Fd() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

void Fd::close(std::string_view path_for_errors) {
    int fd = std::exchange(m_fd, -1);
    // Linux always releases the descriptor, even when close reports EINTR/EIO:
    // never retry, but do report it, since NFS and FUSE surface write errors here.
    if (fd >= 0 && ::close(fd) != 0 && errno != EINTR) {
        throw_errno("close", path_for_errors);
    }
}

Fd open_or_throw(const std::string& path, int flags, unsigned mode) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) {
        throw_errno("open", path);
    }
    return Fd(fd);
}

Fd openat_or_throw(int dirfd, const std::string& name, int flags, unsigned mode,
                   std::string_view display_path) {
    int fd = ::openat(dirfd, name.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) {
        throw_errno("open", display_path);
    }
    return Fd(fd);
}

namespace {
// read(2) or, with offset >= 0, pread(2) until n bytes or end of file; retries EINTR.
size_t read_until(int fd, void* buf, size_t n, long long offset, std::string_view path) {
    auto* p = static_cast<char*>(buf);
    size_t done = 0;
    while (done < n) {
        ssize_t r = offset < 0 ? ::read(fd, p + done, n - done)
                               : ::pread(fd, p + done, n - done,
                                         static_cast<off_t>(offset) + static_cast<off_t>(done));
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("read", path);
        }
        if (r == 0) {
            break;
        }
        done += static_cast<size_t>(r);
    }
    return done;
}
} // namespace

size_t read_full(int fd, void* buf, size_t n, std::string_view path) {
    return read_until(fd, buf, n, -1, path);
}

size_t pread_full(int fd, void* buf, size_t n, long long offset, std::string_view path) {
    return read_until(fd, buf, n, offset, path);
}

void write_full(int fd, const void* buf, size_t n, std::string_view path) {
    const auto* p = static_cast<const char*>(buf);
    size_t done = 0;
    while (done < n) {
        ssize_t w = ::write(fd, p + done, n - done);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("write", path);
        }
        done += static_cast<size_t>(w);
    }
}

std::string read_file(const std::string& path) {
    Fd fd = open_or_throw(path, O_RDONLY);
    std::string out;
    char buf[65536];
    for (;;) {
        size_t n = read_full(fd.get(), buf, sizeof buf, path);
        out.append(buf, n);
        if (n < sizeof buf) {
            return out;
        }
    }
}

} // namespace barge
