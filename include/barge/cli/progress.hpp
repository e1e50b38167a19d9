#pragma once

#include "barge/cli/context.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/engine/progress.hpp"

#include <memory>
#include <string>

namespace barge::cli {

// The start of a progress record that is sealed (an encrypted drive): the rest is
// a note (crypto/sealed_log.hpp) that `status` opens with the drive's key.
inline constexpr const char* sealed_record_prefix = "sealed ";

// Progress of a command, shown two ways: a one-line display on stderr when it is
// a terminal (or --progress), and a record in the drive lock file that `barge
// status` reads during the run (what the command is doing: phase, files and
// bytes done of the totals, rate, ETA, and the pairs' counts as of its start).
// The engine calls it from its main thread only.
class CliProgress : public Progress {
public:
    // draw: the progress line; list: -v's one line per entry acted on, on stdout.
    // keys: an encrypted drive's, so that the record left in the lock is sealed.
    CliProgress(bool draw, bool list, DriveLock* lock, std::string command,
                std::shared_ptr<const DriveKeys> keys = nullptr);
    ~CliProgress() override;
    CliProgress(const CliProgress&) = delete;
    CliProgress& operator=(const CliProgress&) = delete;

    void phase(std::string_view name, uint64_t total_files, uint64_t total_bytes) override;
    void advance(uint64_t files, uint64_t bytes, std::string_view current) override;
    void item(std::string_view what, std::string_view path) override;
    // The status report when the run began (a JSON object), for status to show.
    void set_snapshot(std::string report_json);
    // Clears the line (before text is printed, and at the end).
    void finish();

private:
    void update(bool force);
    std::string record(double now) const;
    std::string line(double now) const;
    std::string eta(double now) const;

    bool m_draw, m_list;
    DriveLock* m_lock;
    std::shared_ptr<const DriveKeys> m_keys;
    std::string m_command, m_since, m_snapshot = "{}";
    std::string m_phase;
    uint64_t m_total_files = 0, m_total_bytes = 0, m_files = 0, m_bytes = 0;
    std::string m_current;
    double m_start = 0, m_last_draw = -1, m_last_report = -1;
    bool m_drawn = false;
};

// The progress of this session's command: drawn when stderr is a terminal and
// output is not quiet (or as --progress / --no-progress say), reported in the
// lock file when the session holds the drive exclusively, with the status of the
// pairs as the run began.
std::unique_ptr<CliProgress> make_progress(const Globals& g, Session& s,
                                           const std::vector<Pair>& pairs);

// Clears the progress line, if one is drawn (say() calls it before printing).
void clear_progress_line();

} // namespace barge::cli
