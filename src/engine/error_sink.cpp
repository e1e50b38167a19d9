#include "barge/engine/error_sink.hpp"

#include "barge/util/text.hpp"

#include <cerrno>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge {

bool RetryPolicy::transient(const Error& e) {
    if (const auto* f = dynamic_cast<const FileError*>(&e)) {
        return f->retry() == FileError::Retry::yes;
    }
    if (const auto* r = dynamic_cast<const ReadError*>(&e)) {
        return r->err() == EIO || r->err() == EINTR || r->err() == EAGAIN;
    }
    return false;
}

ErrorSink::ErrorSink(std::string what, Problems& failures,
                     Notes& notes, Record record)
    : m_what(std::move(what)), m_failures(failures), m_notes(notes), m_record(std::move(record)) {}

void ErrorSink::fail(int64_t entry_id, const std::string& path, const std::string& reason) {
    m_failures.push_back({path, reason});
    // The drive's log gets every failure; the terminal gets it once, from the
    // command's summary (or as an error with -q).
    spdlog::info("{}: '{}': failed: {}", m_what, escape_bytes(path), reason);
    if (entry_id != 0 && m_record) {
        m_record(entry_id, reason);
    }
}

void ErrorSink::note(const std::string& text) {
    m_notes.push_back(text);
}

void ErrorSink::handle(int64_t entry_id, const std::string& path, const Error& e) {
    if (e.stops_run()) {
        throw; // the catalog, the medium, a refusal: not this file's problem alone
    }
    if (const auto* f = dynamic_cast<const FileError*>(&e); f && f->retry() == FileError::Retry::later) {
        note(fmt::format("'{}' {}: it will be carried on a later run", escape_bytes(path), e.what()));
        if (entry_id != 0 && m_miss) {
            m_miss(entry_id);
        }
        return;
    }
    fail(entry_id, path, e.what());
}

void ErrorSink::retrying(const std::string& path, const std::string& reason, int attempt,
                         int attempts) const {
    spdlog::warn("{}: '{}': {} (attempt {} of {})", m_what, escape_bytes(path), reason, attempt,
                 attempts);
}

} // namespace barge
