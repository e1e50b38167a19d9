#include "barge/cli/progress.hpp"

#include "barge/cli/status_report.hpp"
#include "barge/crypto/sealed_log.hpp"
#include "barge/util/json.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace barge::cli {

namespace {
CliProgress* g_active = nullptr; // the one progress line a process draws

// The terminal's width, 80 when it cannot be read.
size_t terminal_width() {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10) {
        return ws.ws_col;
    }
    return 80;
}

// The last n bytes of s, not starting inside a UTF-8 sequence.
std::string tail_bytes(const std::string& s, size_t n) {
    if (s.size() <= n) {
        return s;
    }
    size_t from = s.size() - n;
    while (from < s.size() && (static_cast<unsigned char>(s[from]) & 0xC0) == 0x80) {
        ++from;
    }
    return s.substr(from);
}
} // namespace

CliProgress::CliProgress(bool draw, bool list, DriveLock* lock, std::string command,
                         std::shared_ptr<const DriveKeys> keys)
    : m_draw(draw), m_list(list), m_lock(lock), m_keys(std::move(keys)), m_command(std::move(command)),
      m_since(format_utc(now_ns())) {
    if (m_draw) {
        g_active = this;
    }
}

CliProgress::~CliProgress() {
    finish();
    if (g_active == this) {
        g_active = nullptr;
    }
}

void CliProgress::phase(std::string_view name, uint64_t total_files, uint64_t total_bytes) {
    m_phase = name;
    m_total_files = total_files;
    m_total_bytes = total_bytes;
    m_files = m_bytes = 0;
    m_current.clear();
    m_start = monotonic_seconds();
    update(true);
}

void CliProgress::advance(uint64_t files, uint64_t bytes, std::string_view current) {
    m_files += files;
    m_bytes += bytes;
    m_current = current;
    update(false);
}

void CliProgress::item(std::string_view what, std::string_view path) {
    if (!m_list) {
        return;
    }
    finish();
    std::string line = fmt::format("{:<9} {}\n", what, escape_bytes(path));
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
}

void CliProgress::set_snapshot(std::string report_json) {
    m_snapshot = std::move(report_json);
    update(true);
}

// "1:02:03" left at the current rate; "" until the rate means something (two
// seconds and 1% in), or when it would be absurd.
std::string CliProgress::eta(double now) const {
    double elapsed = now - m_start;
    if (m_total_bytes == 0 || m_bytes >= m_total_bytes || elapsed < 2.0 ||
        static_cast<double>(m_bytes) < static_cast<double>(m_total_bytes) / 100) {
        return "";
    }
    double rate = static_cast<double>(m_bytes) / elapsed;
    double left = static_cast<double>(m_total_bytes - m_bytes) / rate;
    if (left > 99 * 3600) {
        return "";
    }
    auto s = static_cast<int64_t>(left);
    return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
}

std::string CliProgress::line(double now) const {
    double elapsed = std::max(now - m_start, 1e-3);
    std::string out = fmt::format("{}: {}", m_phase, m_files);
    if (m_total_files) {
        out += fmt::format("/{}", m_total_files);
    }
    out += fmt::format(" files, {}", format_size(m_bytes));
    if (m_total_bytes) {
        out += fmt::format("/{}", format_size(m_total_bytes));
    }
    out += fmt::format(", {}/s", format_size(static_cast<uint64_t>(static_cast<double>(m_bytes) / elapsed)));
    if (std::string e = eta(now); !e.empty()) {
        out += ", ETA " + e;
    }
    // The current file takes what is left of the terminal's width (the line must
    // never wrap: \r could not take it back).
    size_t width = terminal_width() - 1;
    if (!m_current.empty() && out.size() + 4 < width) {
        std::string cur = escape_bytes(m_current);
        size_t room = width - out.size() - 1;
        out += " " + (cur.size() <= room ? cur : "..." + tail_bytes(cur, room - 3));
    }
    if (out.size() > width) {
        out.resize(width);
    }
    return out;
}

std::string CliProgress::record(double now) const {
    JsonWriter j;
    j.begin_object();
    j.field("command", m_command);
    j.field("pid", static_cast<int64_t>(::getpid()));
    j.field("since", m_since);
    j.field("updated", format_utc(now_ns()));
    j.field("phase", m_phase);
    j.field("files", m_files);
    j.field("total_files", m_total_files);
    j.field("bytes", m_bytes);
    j.field("total_bytes", m_total_bytes);
    double elapsed = std::max(now - m_start, 1e-3);
    j.field("bytes_per_second", static_cast<int64_t>(static_cast<double>(m_bytes) / elapsed));
    j.field("eta", eta(now));
    j.end_object();
    // The snapshot is spliced in as it came (already JSON).
    std::string out = j.str();
    out.pop_back();
    return out + ",\"status\":" + m_snapshot + "}";
}

void CliProgress::update(bool force) {
    double now = monotonic_seconds();
    if (m_lock && (force || now - m_last_report >= 1.0)) {
        m_last_report = now;
        // On an encrypted drive the record (names, sizes, paths) is sealed.
        m_lock->report(m_keys ? sealed_record_prefix + seal_note(m_keys->logs, record(now))
                              : record(now));
    }
    if (m_draw && !m_phase.empty() && (force || now - m_last_draw >= 0.2)) {
        m_last_draw = now;
        std::fprintf(stderr, "\r\033[K%s", line(now).c_str());
        std::fflush(stderr);
        m_drawn = true;
    }
}

void CliProgress::finish() {
    if (m_drawn) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        m_drawn = false;
    }
}

std::unique_ptr<CliProgress> make_progress(const Globals& g, Session& s,
                                           const std::vector<Pair>& pairs) {
    bool draw = g.progress.value_or(!g.quiet && !g.json && ::isatty(STDERR_FILENO));
    bool list = g.verbose && !g.json && !g.quiet;
    auto p = std::make_unique<CliProgress>(draw, list, s.exclusive_lock(), s.command(),
                                           s.layout().keys);
    if (s.exclusive_lock()) {
        p->set_snapshot(report_snapshot(collect_report(s, pairs)));
    }
    return p;
}

void clear_progress_line() {
    if (g_active) {
        g_active->finish();
    }
}

} // namespace barge::cli
