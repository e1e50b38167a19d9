#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/fs/drive.hpp"
#include "barge/fs/lock.hpp"
#include "barge/util/error.hpp"
#include "barge/util/json.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace barge::cli {

// Options every command accepts.
struct Globals {
    std::optional<std::string> drive;
    bool json = false;
    bool quiet = false;
    bool verbose = false;
    bool yes = false;
    std::optional<bool> progress; // --progress / --no-progress; else: stderr is a terminal
    std::optional<std::string> passphrase_file; // encrypted drives (SPEC §10)
    bool no_save_key = false;
};

// What a command's callback leaves for cli::run to execute after parsing.
using Action = std::function<ExitCode()>;

// One command's open drive: the lock (taken first), the catalog, the drive log.
class Session {
public:
    // How a command holds the drive: exclusively (it writes), shared (it reads and
    // must see no writer), or not at all (status: it never waits for a writer).
    enum class Lock { exclusive, shared, none };
    // check: how much of the catalog is checked at open (Catalog::Check).
    Session(const Globals& globals, const std::string& command, Lock lock,
            Catalog::Check check = Catalog::Check::pages);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    // The pairs named (all pairs when none); throws Refusal for an unknown name.
    std::vector<Pair> select_pairs(const std::vector<std::string>& names);

    const DriveLayout& layout() const { return m_layout; }
    Catalog& catalog() { return m_catalog; }
    const std::string& command() const { return m_command; }
    // The drive lock when held exclusively (progress is reported in it), else null.
    DriveLock* exclusive_lock() { return m_exclusive ? &*m_lock : nullptr; }

private:
    DriveLayout m_layout;
    std::string m_command;
    std::optional<DriveLock> m_lock;
    Catalog m_catalog;
    bool m_exclusive;
};

// The endpoints' memory of this drive (docs/recovery.md). Built when a run that
// may change state begins, for the pairs it works on:
// - refuses (exit 2) a catalog older than what a visible endpoint last saw: a
//   restored image or an outdated copy must not drive deliveries or deletions;
// - with the run's first catalog write, bumps the drive's generation (in the same
//   transaction) and, once committed, records it at each visible endpoint;
// - backup() leaves a copy of the catalog in each visible endpoint's .barge/.
// An endpoint is visible when it holds this pair's marker.
class EndpointSync {
public:
    // On an encrypted drive, the drive's key is also saved at the visible endpoints
    // once the catalog passed the generation check (cli/unlock.hpp).
    EndpointSync(Catalog& catalog, const DriveLayout& layout, const std::vector<Pair>& pairs);
    ~EndpointSync();
    EndpointSync(const EndpointSync&) = delete;
    EndpointSync& operator=(const EndpointSync&) = delete;
    // At the end of a run: unless it stopped (exit 1), the catalog copies.
    // An endpoint that cannot take its copy (full, read-only, gone) is a warning:
    // the drive is sound and the next run tries again. A drive's catalog found
    // damaged while it is copied returns ExitCode::stopped (exit 1, a corrupt
    // catalog), to be the run's exit code: no copy is updated from it, and cron
    // must not read the run as a success (docs/recovery.md).
    [[nodiscard]] ExitCode backup(ExitCode code);

private:
    void record_seen(const std::vector<std::string>& roots);

    Catalog& m_catalog;
    const DriveLayout& m_layout;
    std::string m_drive_id;
    std::vector<Pair> m_pairs;
    std::vector<std::string> m_roots; // visible when the run began
    bool m_wrote = false;
};

// The more serious of two outcomes: 1 > 4 > 2 > 3 > 0.
ExitCode worst(ExitCode a, ExitCode b);

// The exit code of a run that a stop request (SIGINT/TERM/HUP) ended at a safe
// point: 128 + the signal (130, 143, 129) where the work itself reported success,
// partial success or a stop, since the rest waits for the next run (cron must
// not read it as done).
ExitCode after_stop_request(ExitCode code);

// A row in the run history (`barge log`). By default the row is written when the
// run ends, so a refusal leaves the catalog byte-identical; start() writes it at
// once, for commands that change state anyway and should show "did not finish"
// if killed. A run ended by an exception is recorded with exit code 1.
class RunRecorder {
public:
    RunRecorder(Catalog& catalog, std::string command, std::string side,
                const std::vector<Pair>& pairs);
    ~RunRecorder();
    RunRecorder(const RunRecorder&) = delete;
    RunRecorder& operator=(const RunRecorder&) = delete;
    void start();
    // Notes what the run did for one pair (side: "source", "destination" or "drive"),
    // written with the run's row (status, status --check and --metrics read it).
    void pair_done(int64_t pair_id, const std::string& side, ExitCode code, int64_t files,
                   int64_t bytes, int64_t failed);
    // Records the outcome; with Record::if_started, only when start() ran. The
    // summary's text is made only when it is recorded (a dry run's plan is not).
    enum class Record { always, if_started };
    void finish(ExitCode code, int64_t files, int64_t bytes, int64_t failed,
                const JsonWriter& summary, Record record = Record::always);

private:
    struct Done {
        int64_t pair_id;
        std::string side;
        ExitCode code;
        int64_t files, bytes, failed;
    };
    Catalog& m_catalog;
    std::string m_command, m_side, m_pairs;
    int64_t m_started_ns;
    std::optional<int64_t> m_id;
    std::vector<Done> m_done;
    bool m_finished = false;
};

// Prints human text to stdout unless --json or --quiet.
void say(const Globals& g, const std::string& text);
// The same without the line's end: the first part of a long text (a plan's or
// the problems' lines), printed as it grows; say() prints the rest.
void say_part(const Globals& g, const std::string& text);
// Prints the JSON document (one per command) to stdout.
void print_json(const JsonWriter& j);
// At the end of a command: flushes stdout and says whether everything printed
// reached it. When not (a full disk, a closed pipe), says so on stderr: a
// command that would have exited 0 exits 1 (docs/json.md, "When stdout cannot
// be written"). write_errno: the cause of a failed write made without say() or
// print_json (CLI11's help and version), said when none is known.
bool stdout_written(int write_errno = 0);
// Whether this process has printed its JSON document (an error after that must
// not print a second one).
bool json_printed();
// Warnings go to stderr (and the drive log) whatever the mode.
void warn(const std::string& text);

// Sends logs to DRIVE/logs/barge.log (rotating) as well as stderr.
void log_to_drive(const DriveLayout& layout);
// Logging to stderr only: warnings and errors; info too with --verbose.
void setup_logging(const Globals& g);

// A comma-separated list of pair names, for run records.
std::string pair_names(const std::vector<Pair>& pairs);

} // namespace barge::cli
