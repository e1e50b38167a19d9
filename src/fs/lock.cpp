#include "barge/fs/lock.hpp"

#include "barge/util/error.hpp"
#include "barge/util/system.hpp"
#include "barge/util/time.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace barge {

namespace {
std::string lock_path(const std::string& drive) {
    return drive + "/barge.lock";
}

// The first line of the lock file (who holds it), without its newline.
std::string first_line(const std::string& text) {
    return text.substr(0, text.find('\n'));
}
} // namespace

DriveLock::DriveLock(const std::string& drive, Mode mode, const std::string& command) {
    std::string path = lock_path(drive);
    m_fd = open_or_throw(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
    int op = (mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (::flock(m_fd.get(), op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            std::string holder = first_line(read_file(path));
            throw BusyError(fmt::format("another barge holds the drive '{}'{}; try again later",
                                        drive, holder.empty() ? "" : " (" + holder + ")"));
        }
        throw_errno("flock", path);
    }
    if (mode == Mode::exclusive) {
        m_who = fmt::format("pid {} on {}, {} since {}", ::getpid(), host_name(), command,
                            format_utc(now_ns()));
        report("");
    }
}

void DriveLock::report(const std::string& json) {
    // Informational only; the flock is the lock. Not fsynced: it is advice, and a
    // reader sees either version (one pwrite of a few hundred bytes), or a torn
    // record it ignores.
    // write(2) at offset 0 rather than pwrite: the fault-injection tests aim pwrite64
    // at the data barge writes, and this record is not data.
    std::string text = m_who + "\n" + json + (json.empty() ? "" : "\n");
    if (::lseek(m_fd.get(), 0, SEEK_SET) == 0 &&
        ::write(m_fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size())) {
        (void)::ftruncate(m_fd.get(), static_cast<off_t>(text.size()));
    }
}

std::optional<DriveLock::Holder> DriveLock::holder(const std::string& drive) {
    Fd fd(::open(lock_path(drive).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return std::nullopt; // no lock file: nobody ever ran here
    }
    // Probe: a shared lock granted at once means no writer holds the drive; it is
    // dropped right away, so status never stands in a writer's way.
    while (::flock(fd.get(), LOCK_SH | LOCK_NB) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno != EWOULDBLOCK) {
            return std::nullopt;
        }
        std::string text;
        try {
            text = read_file(lock_path(drive));
        } catch (const SystemError&) {
            // unreadable: still held
        }
        size_t nl = text.find('\n');
        Holder h{first_line(text), nl == std::string::npos ? "" : text.substr(nl + 1)};
        while (!h.record.empty() && h.record.back() == '\n') {
            h.record.pop_back();
        }
        return h;
    }
    ::flock(fd.get(), LOCK_UN);
    return std::nullopt;
}

} // namespace barge
