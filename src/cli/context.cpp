#include "barge/cli/context.hpp"
#include "barge/catalog/contents.hpp"

#include "barge/cli/drive_log.hpp"
#include "barge/cli/progress.hpp"
#include "barge/cli/unlock.hpp"

#include "barge/engine/progress.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {
// Unlocks an encrypted drive (cli/unlock.hpp) and takes the drive lock. A command
// that writes takes the lock first: a second barge on a busy drive gets exit 75
// before anyone is asked for a passphrase or waits for Argon2id.
std::optional<DriveLock> unlock_and_lock(DriveLayout& layout, const Globals& g,
                                         Session::Lock lock, const std::string& command) {
    if (lock == Session::Lock::exclusive) {
        DriveLock held(layout.root, DriveLock::Mode::exclusive, command);
        unlock(layout, g);
        return held;
    }
    unlock(layout, g);
    // A catalog made by an older barge is migrated or converted when opened, which
    // rewrites it: only ever under the exclusive lock. A command that only reads
    // takes it for that moment (exit 75 while another barge works).
    if (Catalog::needs_upgrade(layout.catalog(), layout.keys)) {
        DriveLock upgrading(layout.root, DriveLock::Mode::exclusive, command);
        Catalog::open(layout.catalog(), Catalog::Check::pages, layout.keys);
    }
    if (lock == Session::Lock::none) {
        return std::nullopt;
    }
    return DriveLock(layout.root, DriveLock::Mode::shared, command);
}
} // namespace

Session::Session(const Globals& globals, const std::string& command, Lock lock,
                 Catalog::Check check)
    : m_layout(find_drive(globals.drive)), m_command(command),
      m_lock(unlock_and_lock(m_layout, globals, lock, command)),
      m_catalog(Catalog::open(m_layout.catalog(), check, m_layout.keys)),
      m_exclusive(lock == Lock::exclusive) {
    if (m_exclusive) {
        // The drive lock already keeps every other barge out: SQLite may keep its
        // file locks for the whole session instead of taking and dropping them (and
        // looking for a hot journal) around every statement (docs/catalog.md).
        m_catalog.db().exec("PRAGMA locking_mode = EXCLUSIVE");
        // Which pages this session writes: the endpoint copies take only those.
        m_catalog.track_pages();
    }
    log_to_drive(m_layout);
}

Session::~Session() {
    if (!m_exclusive) {
        return;
    }
    try {
        // Back to normal locking; the next access drops the locks and the (zeroed)
        // journal, so the catalog is one self-contained file again.
        m_catalog.db().exec("PRAGMA locking_mode = NORMAL");
        m_catalog.db().query_int("SELECT count(*) FROM meta");
        m_catalog.seal_pages();
    } catch (const std::exception& e) {
        spdlog::warn("releasing the catalog: {}", e.what());
    }
}

std::vector<Pair> Session::select_pairs(const std::vector<std::string>& names) {
    if (names.empty()) {
        return m_catalog.pairs();
    }
    std::vector<Pair> out;
    for (const auto& n : names) {
        auto p = m_catalog.find_pair(n);
        if (!p) {
            throw Refusal(fmt::format("unknown pair '{}' (see 'barge pair list')", n));
        }
        out.push_back(std::move(*p));
    }
    return out;
}

namespace {
// Roots of the pairs that hold their pair's marker, once each.
std::vector<std::string> visible_roots(const std::vector<Pair>& pairs) {
    std::vector<std::string> roots;
    for (const auto& p : pairs) {
        for (auto [root, role] : {std::pair{p.source, Role::source}, std::pair{p.dest, Role::dest}}) {
            if (has_marker(root, p.uuid, role) &&
                std::find(roots.begin(), roots.end(), root) == roots.end()) {
                roots.push_back(root);
            }
        }
    }
    return roots;
}
} // namespace

EndpointSync::EndpointSync(Catalog& catalog, const DriveLayout& layout, const std::vector<Pair>& pairs)
    : m_catalog(catalog), m_layout(layout), m_drive_id(catalog.drive_id()), m_pairs(pairs),
      m_roots(visible_roots(pairs)) {
    int64_t current = catalog.generation();
    for (const auto& root : m_roots) {
        auto seen = read_seen_generation(root, m_drive_id);
        if (seen && *seen > current) {
            throw Refusal(fmt::format(
                "the catalog on this drive is older than what '{}' last saw (generation {} < {}): "
                "a restored image or an old copy of the drive's catalog. Acting on it could "
                "deliver old versions or trash newer files, so barge stops here. If the drive's "
                "real catalog is lost, rebuild it from the newest copy: 'barge recover {}'",
                escape_bytes(root), current, *seen, escape_bytes(root)));
        }
    }
    save_keys_at(m_layout, m_roots);
    m_catalog.db().set_first_write([this] { m_catalog.bump_generation(); },
                                   [this] {
                                       m_wrote = true;
                                       record_seen(m_roots);
                                   });
}

EndpointSync::~EndpointSync() {
    m_catalog.db().set_first_write(nullptr, nullptr);
}

void EndpointSync::record_seen(const std::vector<std::string>& roots) {
    int64_t g = m_catalog.generation();
    for (const auto& root : roots) {
        try {
            write_seen_generation(root, m_drive_id, g);
        } catch (const Error& e) {
            spdlog::warn("recording the drive's generation at '{}': {}", escape_bytes(root), e.what());
        }
    }
}

ExitCode EndpointSync::backup(ExitCode code) {
    if (!m_wrote || code == ExitCode::stopped) {
        return ExitCode::ok; // nothing changed (the copies there are current), or stopped midway
    }
    // A destination claimed during the run is visible now.
    std::vector<std::string> roots = visible_roots(m_pairs);
    std::vector<std::string> fresh;
    for (const auto& r : roots) {
        if (std::find(m_roots.begin(), m_roots.end(), r) == m_roots.end()) {
            fresh.push_back(r);
        }
    }
    record_seen(fresh);
    save_keys_at(m_layout, fresh);
    for (const auto& root : roots) {
        try {
            std::string copy = catalog_backup_path(root, m_drive_id);
            ReplicaUpdate u = m_catalog.update_copy(copy);
            spdlog::info("catalog copy '{}': {} ({} page{}, {} written)", escape_bytes(copy),
                         u.whole ? "made whole" : "updated", u.pages, u.pages == 1 ? "" : "s",
                         u.bytes_written);
            // The copy says the drive serves its pairs here: a mark it left
            // when it removed one of them and joined it again goes.
            for (const auto& p : m_catalog.pairs()) {
                if (p.source == root || p.dest == root) {
                    remove_left_pair(root, p.uuid, m_drive_id);
                }
            }
        } catch (const Error& e) {
            if (m_catalog.db().damaged()) {
                spdlog::error("{}", e.what());
                return ExitCode::stopped;
            }
            spdlog::warn("copying the catalog to '{}': {}", escape_bytes(root), e.what());
        }
    }
    return ExitCode::ok;
}

ExitCode worst(ExitCode a, ExitCode b) {
    auto rank = [](ExitCode c) {
        switch (c) {
        case ExitCode::interrupted:
        case ExitCode::terminated:
        case ExitCode::hung_up:
            return 6;
        case ExitCode::stopped:
            return 5;
        case ExitCode::corrupt:
            return 4;
        case ExitCode::refused:
            return 3;
        case ExitCode::partial:
            return 2;
        case ExitCode::busy:
            return 1;
        case ExitCode::ok:
            return 0;
        }
        return 0;
    };
    return rank(a) >= rank(b) ? a : b;
}

ExitCode after_stop_request(ExitCode code) {
    if (stop_requested() &&
        (code == ExitCode::ok || code == ExitCode::partial || code == ExitCode::stopped)) {
        return Stopped().code();
    }
    return code;
}

RunRecorder::RunRecorder(Catalog& catalog, std::string command, std::string side,
                         const std::vector<Pair>& pairs)
    : m_catalog(catalog), m_command(std::move(command)), m_side(std::move(side)),
      m_pairs(pair_names(pairs)), m_started_ns(now_ns()) {}

void RunRecorder::start() {
    if (!m_id) {
        m_id = m_catalog.begin_run(m_command, m_side, m_pairs, m_started_ns);
    }
}

RunRecorder::~RunRecorder() {
    if (m_finished) {
        return;
    }
    try {
        finish(ExitCode::stopped, 0, 0, 0, JsonWriter()); // no summary
    } catch (const Error&) {
        // The catalog itself failed; the error that got us here is already reported.
    }
}

void RunRecorder::pair_done(int64_t pair_id, const std::string& side, ExitCode code,
                            int64_t files, int64_t bytes, int64_t failed) {
    m_done.push_back({pair_id, side, code, files, bytes, failed});
}

void RunRecorder::finish(ExitCode code, int64_t files, int64_t bytes, int64_t failed,
                         const JsonWriter& summary, Record record) {
    m_finished = true;
    if (!m_id && record == Record::if_started) {
        return;
    }
    code = after_stop_request(code); // as main() reports it
    // A run's side is what it did: "run" decides per pair.
    bool source = false, destination = false;
    for (const auto& d : m_done) {
        source = source || d.side == "source";
        destination = destination || d.side == "destination";
    }
    std::string side = m_command != "run" ? m_side
                       : source && destination ? "both"
                       : source               ? "source"
                       : destination          ? "destination"
                                              : "none";
    start();
    Transaction tx(m_catalog.db());
    // The contents and pieces this run's writes left unneeded (few: each the
    // old version of a changed or delivered file, or a piece off the cargo).
    Forgotten f = forget_unneeded(m_catalog.db());
    if (f.contents + f.pieces > 0) {
        spdlog::debug("forgot {} content(s) and {} piece(s) that nothing needs", f.contents, f.pieces);
    }
    m_catalog.end_run(*m_id, side, static_cast<int>(code), files, bytes, failed, summary.str());
    for (const auto& d : m_done) {
        m_catalog.record_pair_run(*m_id, d.pair_id, d.side, static_cast<int>(after_stop_request(d.code)),
                                  d.files, d.bytes, d.failed);
    }
    tx.commit();
}

namespace {
int g_stdout_errno = 0; // the first failed write of text to stdout
}

namespace {
// Writes text (and a line's end after it, unless it ends one) to stdout.
void write_text(const std::string& text, bool end_line) {
    clear_progress_line(); // text never lands on the end of a progress line
    bool whole = std::fwrite(text.data(), 1, text.size(), stdout) == text.size();
    if (whole && end_line && (text.empty() || text.back() != '\n')) {
        whole = std::fputc('\n', stdout) != EOF;
    }
    if (!whole && g_stdout_errno == 0) {
        g_stdout_errno = errno; // said at the end (stdout_written), with its cause
    }
}
} // namespace

void say(const Globals& g, const std::string& text) {
    if (!g.json && !g.quiet) {
        write_text(text, true);
    }
}

void say_part(const Globals& g, const std::string& text) {
    if (!g.json && !g.quiet) {
        write_text(text, false);
    }
}

namespace {
bool g_json_printed = false;
bool g_output_failure_said = false;
}

void print_json(const JsonWriter& j) {
    // Printed (in part) even if a value written late fails: no second document
    // follows. A failure to write it is said, and the run goes on to its
    // endpoint copies (the catalog is written already; recover needs them).
    g_json_printed = true;
    try {
        j.write_to(stdout);
        std::fputc('\n', stdout);
    } catch (const Error& e) {
        spdlog::error("printing the JSON document: {}", e.what());
        g_output_failure_said = true;
    }
}

bool stdout_written(int write_errno) {
    if (g_stdout_errno == 0) {
        g_stdout_errno = write_errno;
    }
    errno = 0;
    bool flush_failed = std::fflush(stdout) != 0;
    int err = flush_failed ? errno : 0;
    if (!flush_failed && !std::ferror(stdout)) {
        return true;
    }
    if (!g_output_failure_said) {
        // glibc empties the buffer when a write fails: the first failure's cause
        // may be all there is to say.
        if (g_stdout_errno != 0) {
            err = g_stdout_errno;
        }
        spdlog::error("writing the output to stdout: {}", err != 0 ? std::strerror(err) : "a write failed");
    }
    return false;
}

bool json_printed() {
    return g_json_printed;
}

void warn(const std::string& text) {
    spdlog::warn("{}", text);
}

namespace {
std::shared_ptr<spdlog::logger> g_logger;
}

void setup_logging(const Globals& g) {
    auto err = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    err->set_pattern("barge: %l: %v");
    err->set_level(g.verbose ? spdlog::level::info
                             : (g.quiet ? spdlog::level::err : spdlog::level::warn));
    g_logger = std::make_shared<spdlog::logger>("barge", spdlog::sinks_init_list{err});
    g_logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(g_logger);
}

void log_to_drive(const DriveLayout& layout) {
    add_drive_log_sink(layout);
}

std::string pair_names(const std::vector<Pair>& pairs) {
    std::string out;
    for (const auto& p : pairs) {
        if (!out.empty()) {
            out += ",";
        }
        out += p.name;
    }
    return out;
}

} // namespace barge::cli
