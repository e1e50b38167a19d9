#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace barge {

// The documented exit codes (SPEC §5). main() maps errors to these in one place.
enum class ExitCode : int {
    ok = 0,
    stopped = 1,    // drive I/O failure, corrupt catalog, internal error
    refused = 2,    // usage or safety refusal
    partial = 3,    // finished, but some files could not be processed
    corrupt = 4,    // verification found missing or corrupt data
    busy = 75,      // another barge holds this drive
    // Stopped by a signal at a safe point: 128 + the signal (SIGINT 130,
    // SIGTERM 143, SIGHUP 129), as a shell reports a process a signal ended.
    interrupted = 130,
    terminated = 143,
    hung_up = 129,
};

// Base of every barge error; carries the exit code it maps to. Errors are of two
// scopes: most name one file, and a loop over files records them and goes on;
// those whose stops_run() is true (the catalog, the drive, a refusal) end the run.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, ExitCode code = ExitCode::stopped)
        : std::runtime_error(what), m_code(code) {}
    ExitCode code() const { return m_code; }
    // True when nothing more may be done in this run (see ErrorSink).
    virtual bool stops_run() const { return false; }

private:
    ExitCode m_code;
};

// A failed system call: "OPERATION 'PATH': strerror(errno)".
class SystemError : public Error {
public:
    SystemError(int err, std::string_view operation, std::string_view path);
    int err() const { return m_err; }

private:
    int m_err;
};

// A read failed (as opposed to a write): lets a copy tell a bad source from a bad target.
class ReadError : public SystemError {
public:
    using SystemError::SystemError;
};

// The medium being written failed where that stops the run: a write, sync or
// rename on the drive, or a durability barrier anywhere. What the run wrote since
// its last barrier is in doubt; the next run checks it (SPEC §7.3).
class MediumError : public SystemError {
public:
    using SystemError::SystemError;
    bool stops_run() const override { return true; }
};

// The catalog is corrupt, unreadable or from a newer barge.
class CatalogError : public Error {
public:
    using Error::Error;
    bool stops_run() const override { return true; }
};

// A problem with one file that is not a failed system call: it changed while it
// was read, its bytes no longer match its hash, a piece it needs is corrupt.
class FileError : public Error {
public:
    enum class Retry {
        no,    // failed: reported, the run goes on
        yes,   // transient: tried again (SPEC §7.8)
        later, // not a failure: it waits for a later run (a note, SPEC §7.7)
    };
    explicit FileError(const std::string& what, Retry retry = Retry::no)
        : Error(what, ExitCode::partial), m_retry(retry) {}
    Retry retry() const { return m_retry; }

private:
    Retry m_retry;
};

// Bytes read back did not hash to what was expected.
class VerifyError : public Error {
public:
    explicit VerifyError(const std::string& what) : Error(what, ExitCode::corrupt) {}
};

// Bad arguments, unknown pair, missing marker, mass-change brake: exit 2.
class Refusal : public Error {
public:
    explicit Refusal(const std::string& what) : Error(what, ExitCode::refused) {}
    bool stops_run() const override { return true; }
};

// Another barge holds the drive lock: exit 75.
class BusyError : public Error {
public:
    explicit BusyError(const std::string& what) : Error(what, ExitCode::busy) {}
    bool stops_run() const override { return true; }
};

// Throws SystemError for the current errno.
[[noreturn]] void throw_errno(std::string_view operation, std::string_view path);

} // namespace barge
