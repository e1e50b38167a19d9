#include "barge/fs/lock.hpp"

#include "barge/util/system.hpp"
#include "barge/util/error.hpp"
#include "barge/util/time.hpp"

#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <unistd.h>

namespace barge {

DriveLock::DriveLock(const std::string& drive, Mode mode, const std::string& command) {
    std::string path = drive + "/barge.lock";
    m_fd = open_or_throw(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
    int op = (mode == Mode::exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    while (::flock(m_fd.get(), op) != 0) {
        if (errno == EINTR) {
            continue;
        }
        if (errno == EWOULDBLOCK) {
            std::string holder = read_file(path);
            while (!holder.empty() && holder.back() == '\n') {
                holder.pop_back();
            }
            throw BusyError(fmt::format("another barge holds the drive '{}'{}; try again later",
                                        drive, holder.empty() ? "" : " (" + holder + ")"));
        }
        throw_errno("flock", path);
    }
    if (mode == Mode::exclusive) {
        // Informational only; the flock is the lock. Not fsynced: it is advice.
        std::string who = fmt::format("pid {} on {}, {} since {}\n", ::getpid(), host_name(),
                                      command, format_utc(now_ns()));
        if (::ftruncate(m_fd.get(), 0) == 0) {
            (void)::pwrite(m_fd.get(), who.data(), who.size(), 0);
        }
    }
}

} // namespace barge
