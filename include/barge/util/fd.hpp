#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace barge {

// A move-only owner of a file descriptor; closes it on destruction.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : m_fd(fd) {}
    Fd(Fd&& other) noexcept : m_fd(std::exchange(other.m_fd, -1)) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();

    int get() const { return m_fd; }
    explicit operator bool() const { return m_fd >= 0; }
    int release() { return std::exchange(m_fd, -1); }
    // Closes now and reports a failed close (which can carry a deferred write error).
    void close(std::string_view path_for_errors);

private:
    int m_fd = -1;
};

// open(2) that throws SystemError naming the path.
Fd open_or_throw(const std::string& path, int flags, unsigned mode = 0);
// openat(2) that throws SystemError naming display_path.
Fd openat_or_throw(int dirfd, const std::string& name, int flags, unsigned mode,
                   std::string_view display_path);

// Reads exactly n bytes unless EOF comes first; returns the count read. Retries EINTR.
size_t read_full(int fd, void* buf, size_t n, std::string_view path);
// pread variant of read_full.
size_t pread_full(int fd, void* buf, size_t n, long long offset, std::string_view path);
// Writes all n bytes or throws.
void write_full(int fd, const void* buf, size_t n, std::string_view path);

// Reads a whole (small) file.
std::string read_file(const std::string& path);

} // namespace barge
