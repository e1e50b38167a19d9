#include "barge/engine/report.hpp"

#include "barge/util/error.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace barge {

namespace {

// $TMPDIR, as for sort(1) and git, else /tmp.
std::string spool_dir() {
    const char* t = std::getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

// what: "the dry run's plan", "the run's problems".
std::string spool_name(const char* what) {
    return fmt::format("{} (a temporary file in '{}')", what, spool_dir());
}

const char* const plan_spool = "the dry run's plan";
const char* const problems_spool = "the run's problems";

// An unlinked file in spool_dir(): O_TMPFILE, or where the file system has none
// (some network and FUSE file systems), a named file removed at once.
std::FILE* open_spool(const char* what) {
    std::string dir = spool_dir();
    int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        std::string name = dir + "/barge-spool-XXXXXX";
        fd = ::mkostemp(name.data(), O_CLOEXEC);
        if (fd >= 0) {
            ::unlink(name.c_str());
        }
    }
    if (fd < 0) {
        throw_errno("create", spool_name(what));
    }
    std::FILE* f = ::fdopen(fd, "w+b");
    if (!f) {
        int e = errno;
        ::close(fd);
        errno = e;
        throw_errno("open", spool_name(what));
    }
    return f;
}

void put(const char* what, std::FILE* f, const void* data, size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, f) != n) {
        throw_errno("write", spool_name(what));
    }
}

void put_text(const char* what, std::FILE* f, const std::string& s) {
    uint64_t n = s.size();
    put(what, f, &n, sizeof n);
    put(what, f, s.data(), s.size());
}

// One of a spool's items could not be read back (errno: why, when known).
[[noreturn]] void spool_unreadable(const char* what, const char* item, size_t i, size_t n) {
    int e = errno;
    throw Error(fmt::format("{}: {} {} of {} could not be read back{}", spool_name(what), item, i + 1, n,
                            e ? std::string(": ") + std::strerror(e) : ""));
}

// Reads a spool from its start with pread: what its stream has flushed,
// whatever the stream's position or state (a write that failed may leave
// bytes in its buffer), which the reading leaves as they are.
class SpoolReader {
public:
    explicit SpoolReader(std::FILE* f) : m_fd(::fileno(f)) {}
    bool get(void* data, size_t n) {
        auto* out = static_cast<char*>(data);
        while (n > 0) {
            if (m_at == m_buf.size() && !fill()) {
                return false;
            }
            size_t k = std::min(n, m_buf.size() - m_at);
            std::memcpy(out, m_buf.data() + m_at, k);
            m_at += k;
            out += k;
            n -= k;
        }
        return true;
    }
    bool get_text(std::string& s) {
        uint64_t n = 0;
        if (!get(&n, sizeof n)) {
            return false;
        }
        s.resize(n);
        return get(s.data(), n);
    }

private:
    bool fill() {
        m_buf.resize(64 * 1024);
        ssize_t n;
        do {
            n = ::pread(m_fd, m_buf.data(), m_buf.size(), m_pos);
        } while (n < 0 && errno == EINTR);
        m_buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
        m_at = 0;
        m_pos += n > 0 ? n : 0;
        return n > 0;
    }
    int m_fd;
    off_t m_pos = 0;
    std::string m_buf;
    size_t m_at = 0;
};

} // namespace

void Plan::add(const PlanLine& line) {
    if (!m_file) {
        m_file.reset(open_spool(plan_spool), [](std::FILE* f) { std::fclose(f); });
    }
    put_text(plan_spool, m_file.get(), line.path);
    put(plan_spool, m_file.get(), &line.bytes, sizeof line.bytes);
    char goes = line.goes ? 1 : 0;
    put(plan_spool, m_file.get(), &goes, 1);
    put_text(plan_spool, m_file.get(), line.why);
    ++m_lines;
    m_goes += line.goes ? 1 : 0;
    m_go_bytes += line.goes ? line.bytes : 0;
}

void Plan::each(const std::function<void(const PlanLine&)>& f) const {
    if (!m_file) {
        return;
    }
    if (std::fflush(m_file.get()) != 0) {
        throw_errno("write", spool_name(plan_spool));
    }
    SpoolReader in(m_file.get());
    PlanLine line;
    for (int64_t i = 0; i < m_lines; ++i) {
        char goes = 0;
        errno = 0;
        if (!in.get_text(line.path) || !in.get(&line.bytes, sizeof line.bytes) || !in.get(&goes, 1) ||
            !in.get_text(line.why)) {
            spool_unreadable(plan_spool, "line", static_cast<size_t>(i), static_cast<size_t>(m_lines));
        }
        line.goes = goes != 0;
        f(line);
    }
}

namespace {

// How each kind of item is named, written and read back.
const char* const notes_spool = "the run's notes";
const char* spool_what(const FileProblem*) { return problems_spool; }
const char* spool_what(const std::string*) { return notes_spool; }
const char* item_name(const FileProblem*) { return "problem"; }
const char* item_name(const std::string*) { return "note"; }
void put_item(std::FILE* f, const FileProblem& p) {
    put_text(problems_spool, f, p.path);
    put_text(problems_spool, f, p.reason);
}
void put_item(std::FILE* f, const std::string& n) { put_text(notes_spool, f, n); }
bool get_item(SpoolReader& in, FileProblem& p) { return in.get_text(p.path) && in.get_text(p.reason); }
bool get_item(SpoolReader& in, std::string& n) { return in.get_text(n); }

} // namespace

template <typename T>
void Spooled<T>::push_back(T item) {
    ++m_count;
    if (m_first.size() < held) {
        m_first.push_back(std::move(item));
        return;
    }
    const char* what = spool_what(&item);
    if (m_rest.empty()) {
        try {
            if (!m_file) {
                m_file.reset(open_spool(what), [](std::FILE* f) { std::fclose(f); });
            }
            put_item(m_file.get(), item);
            // Written through now: a full disk is met here, where the item
            // can still be kept, not when the list is printed.
            if (std::fflush(m_file.get()) != 0) {
                throw_errno("write", spool_name(what));
            }
            ++m_in_file;
            return;
        } catch (const Error& e) {
            // A half-written item is never read: m_in_file counts whole
            // ones, and they are read back with pread (SpoolReader).
            spdlog::warn("{}; the rest are kept in memory", e.what());
        }
    }
    m_rest.push_back(std::move(item));
}

template <typename T>
void Spooled<T>::each(const std::function<void(const T&)>& f) const {
    for (const auto& item : m_first) {
        f(item);
    }
    if (m_file) {
        // Each item counted in m_in_file was flushed whole when added.
        SpoolReader in(m_file.get());
        T item;
        for (size_t i = 0; i < m_in_file; ++i) {
            errno = 0;
            if (!get_item(in, item)) {
                spool_unreadable(spool_what(&item), item_name(&item), i, m_in_file);
            }
            f(item);
        }
    }
    for (const auto& item : m_rest) {
        f(item);
    }
}

template class Spooled<FileProblem>;
template class Spooled<std::string>;

} // namespace barge
