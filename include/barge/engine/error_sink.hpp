#pragma once

#include "barge/engine/report.hpp"
#include "barge/util/error.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace barge {

// How often a file is tried before it is reported failed (SPEC §7.8): transient
// read errors and verification mismatches.
struct RetryPolicy {
    int attempts = 5;
    // Whether a file that failed on this attempt gets another one.
    bool again(int attempt) const { return attempt < attempts; }
    // Whether an error is worth another attempt: a FileError marked so, or an I/O
    // error reading a source (EIO, EINTR, EAGAIN).
    static bool transient(const Error& e);
};

// Where the per-file problems of a run go (restic's error callback): each is
// logged, recorded on its catalog entry, counted and listed in the run's result.
// An error whose stops_run() is true is not a per-file problem: handle() rethrows
// it, and the run ends.
class ErrorSink {
public:
    // Records a failure on the catalog entry (entry_id 0: no entry to record on).
    using Record = std::function<void(int64_t entry_id, const std::string& reason)>;
    ErrorSink(std::string what, Problems& failures, Notes& notes, Record record);
    // Records on the catalog entry that a file waits for a later run (it changed
    // while read): status tells one that has waited longer than --max-age.
    using Miss = std::function<void(int64_t entry_id)>;
    void on_miss(Miss miss) { m_miss = std::move(miss); }

    // A file failed for good.
    void fail(int64_t entry_id, const std::string& path, const std::string& reason);
    // Something that is not a failure (a file that waits for a later run).
    void note(const std::string& text);
    // An error caught in a per-file loop (call it from the catch block): rethrows
    // what stops the run; a FileError that waits for a later run becomes a note;
    // anything else fails the file.
    void handle(int64_t entry_id, const std::string& path, const Error& e);
    // Announces another attempt at a file.
    void retrying(const std::string& path, const std::string& reason, int attempt,
                  int attempts) const;
    // Failures so far.
    size_t failed() const { return m_failures.size(); }

private:
    std::string m_what; // "load photos": the prefix of every log line
    Problems& m_failures;
    Notes& m_notes;
    Record m_record;
    Miss m_miss;
};

// Runs work for one file; an Error it throws goes to the sink (which rethrows
// what stops the run).
template <typename F>
void for_file(ErrorSink& sink, int64_t entry_id, const std::string& path, F&& work) {
    try {
        work();
    } catch (const Error& e) {
        sink.handle(entry_id, path, e);
    }
}

} // namespace barge
