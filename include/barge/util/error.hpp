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
};

// Base of every barge error; carries the exit code it maps to.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& what, ExitCode code = ExitCode::stopped)
        : std::runtime_error(what), m_code(code) {}
    ExitCode code() const { return m_code; }

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

// The catalog is corrupt, unreadable or from a newer barge.
class CatalogError : public Error {
public:
    using Error::Error;
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
};

// Another barge holds the drive lock: exit 75.
class BusyError : public Error {
public:
    explicit BusyError(const std::string& what) : Error(what, ExitCode::busy) {}
};

// Throws SystemError for the current errno.
[[noreturn]] void throw_errno(std::string_view operation, std::string_view path);

} // namespace barge
