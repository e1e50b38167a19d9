#include "barge/engine/report.hpp"

#include "barge/util/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace barge {

namespace {

// $TMPDIR, as for sort(1) and git, else /tmp.
std::string spool_dir() {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

std::string spool_name() {
    return fmt::format("the dry run's plan (a temporary file in '{}')", spool_dir());
}

// An unlinked file in spool_dir(): O_TMPFILE, or where the file system has none
// (some network and FUSE file systems), a named file removed at once.
std::FILE* open_spool() {
    std::string dir = spool_dir();
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        std::string name = dir + "/barge-plan-XXXXXX";
        fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0) {
            ::unlink(name.c_str());
        }
    }
    if (fd < 0) {
        throw_errno("create", spool_name());
    }
    std::FILE* f = ::fdopen(fd, "w+b");
    if (!f) {
        int e = errno;
        ::close(fd);
        errno = e;
        throw_errno("open", spool_name());
    }
    return f;
}

void put(std::FILE* f, const void* data, size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, f) != n) {
        throw_errno("write", spool_name());
    }
}

void put_text(std::FILE* f, const std::string& s) {
    uint64_t n = s.size();
    put(f, &n, sizeof n);
    put(f, s.data(), s.size());
}

bool get(std::FILE* f, void* data, size_t n) {
    return n == 0 || std::fread(data, 1, n, f) == n;
}

bool get_text(std::FILE* f, std::string& s) {
    uint64_t n = 0;
    if (!get(f, &n, sizeof n)) {
        return false;
    }
    s.resize(n);
    return get(f, s.data(), n);
}

} // namespace

void Plan::add(const PlanLine& line) {
    if (!m_file) {
        m_file.reset(open_spool(), [](std::FILE* f) { std::fclose(f); });
    }
    put_text(m_file.get(), line.path);
    put(m_file.get(), &line.bytes, sizeof line.bytes);
    char goes = line.goes ? 1 : 0;
    put(m_file.get(), &goes, 1);
    put_text(m_file.get(), line.why);
    ++m_lines;
    m_goes += line.goes ? 1 : 0;
    m_go_bytes += line.goes ? line.bytes : 0;
}

void Plan::each(const std::function<void(const PlanLine&)>& f) const {
    if (!m_file) {
        return;
    }
    std::FILE* in = m_file.get();
    if (std::fflush(in) != 0 || std::fseek(in, 0, SEEK_SET) != 0) {
        throw_errno("read", spool_name());
    }
    PlanLine line;
    for (int64_t i = 0; i < m_lines; ++i) {
        char goes = 0;
        if (!get_text(in, line.path) || !get(in, &line.bytes, sizeof line.bytes) ||
            !get(in, &goes, 1) || !get_text(in, line.why)) {
            throw Error(fmt::format("{}: line {} of {} could not be read back{}", spool_name(), i + 1,
                                    m_lines, std::ferror(in) ? std::string(": ") + std::strerror(errno) : ""));
        }
        line.goes = goes != 0;
        f(line);
    }
    if (std::fseek(in, 0, SEEK_END) != 0) {
        throw_errno("seek", spool_name());
    }
}

} // namespace barge
