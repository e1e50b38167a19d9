#pragma once

#include "barge/util/fd.hpp"

#include <optional>
#include <string>

namespace barge {

// The drive lock (DRIVE/barge.lock): flock(2), so the kernel drops it when the
// holder dies, even by SIGKILL — a lock left behind cannot block the next run.
// The file says who holds it (its first line, for the message a second barge
// prints) and, on its second line, a JSON record of what the holder is doing
// (DriveLock::report), which `barge status` reads without waiting (SPEC §5).
class DriveLock {
public:
    enum class Mode { shared, exclusive };
    // Takes the lock without waiting; throws BusyError (exit 75) naming the holder.
    DriveLock(const std::string& drive, Mode mode, const std::string& command);
    ~DriveLock() = default;
    DriveLock(DriveLock&&) = default;

    // Holder of an exclusive lock: replaces the record of what it is doing (one line
    // of JSON, no newline). Advice only: never synced, errors ignored.
    void report(const std::string& json);

    // What a barge holding the drive exclusively says it is doing: its first line
    // and its JSON record ("" when it wrote none); nullopt when none holds it.
    struct Holder {
        std::string who, record;
    };
    static std::optional<Holder> holder(const std::string& drive);

private:
    Fd m_fd;
    std::string m_who; // the first line
};

} // namespace barge
