#pragma once

#include "barge/util/fd.hpp"

#include <string>

namespace barge {

// The drive lock (DRIVE/barge.lock): flock(2), so the kernel drops it when the
// holder dies, even by SIGKILL — a lock left behind cannot block the next run.
// The file records who holds it, for the message the second process prints.
class DriveLock {
public:
    enum class Mode { shared, exclusive };
    // Takes the lock without waiting; throws BusyError (exit 75) naming the holder.
    DriveLock(const std::string& drive, Mode mode, const std::string& command);
    ~DriveLock() = default;
    DriveLock(DriveLock&&) = default;

private:
    Fd m_fd;
};

} // namespace barge
