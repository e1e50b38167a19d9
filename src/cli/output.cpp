#include "barge/cli/output.hpp"

#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <unistd.h>

namespace barge::cli {

std::unique_ptr<TermProgress> make_progress(const Globals& g) {
    if (g.quiet || !::isatty(STDERR_FILENO)) {
        return nullptr;
    }
    return std::make_unique<TermProgress>();
}

void TermProgress::phase(std::string_view name, uint64_t total_files, uint64_t total_bytes) {
    m_phase = name;
    m_total_files = total_files;
    m_total_bytes = total_bytes;
    m_files = m_bytes = 0;
    m_start = monotonic_seconds();
    draw(true);
}

void TermProgress::advance(uint64_t files, uint64_t bytes, std::string_view current) {
    m_files += files;
    m_bytes += bytes;
    m_current = current;
    draw(false);
}

void TermProgress::draw(bool force) {
    double now = monotonic_seconds();
    if (!force && now - m_last_draw < 0.2) {
        return;
    }
    m_last_draw = now;
    double elapsed = std::max(now - m_start, 1e-3);
    double rate = static_cast<double>(m_bytes) / elapsed;
    std::string line = fmt::format("{}: {}", m_phase, m_files);
    if (m_total_files) {
        line += fmt::format("/{}", m_total_files);
    }
    line += fmt::format(" files, {}", format_size(m_bytes));
    if (m_total_bytes) {
        line += fmt::format("/{}", format_size(m_total_bytes));
    }
    line += fmt::format(", {}/s", format_size(static_cast<uint64_t>(rate)));
    if (m_total_bytes > m_bytes && rate > 0) {
        auto eta = static_cast<int64_t>(static_cast<double>(m_total_bytes - m_bytes) / rate);
        line += fmt::format(", ETA {}:{:02}:{:02}", eta / 3600, eta / 60 % 60, eta % 60);
    }
    if (!m_current.empty()) {
        std::string cur = escape_bytes(m_current);
        if (cur.size() > 40) {
            cur = "..." + cur.substr(cur.size() - 37);
        }
        line += " " + cur;
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    m_drawn = true;
}

void TermProgress::finish() {
    if (m_drawn) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        m_drawn = false;
    }
}

std::string scan_result_text(const std::string& pair, const ScanResult& r) {
    std::string text = fmt::format("{}: {} new, {} modified, {} deleted, {} renamed, {} unchanged",
                                   pair, r.new_files, r.modified, r.deleted, r.renamed, r.unchanged);
    if (r.new_dirs || r.deleted_dirs) {
        text += fmt::format("; directories: {} new, {} deleted", r.new_dirs, r.deleted_dirs);
    }
    if (r.files_hashed) {
        text += fmt::format("; hashed {} files ({})", r.files_hashed,
                            format_size(static_cast<uint64_t>(r.bytes_hashed)));
    }
    if (r.stopped_early) {
        text += fmt::format("; stopped early, {} files still to hash (the next scan continues)",
                            r.left_to_hash);
    }
    for (const auto& n : r.notes) {
        text += "\n  note: " + n;
    }
    for (const auto& p : r.problems) {
        text += fmt::format("\n  failed: {}: {}", escape_bytes(p.path), p.reason);
    }
    return text;
}

void problems_json(JsonWriter& j, const std::vector<FileProblem>& problems) {
    j.key("problems");
    j.begin_array();
    for (const auto& p : problems) {
        j.begin_object();
        j.field("path", p.path);
        j.field("reason", p.reason);
        j.end_object();
    }
    j.end_array();
}

void scan_result_json(JsonWriter& j, const ScanResult& r) {
    j.field("new", r.new_files);
    j.field("modified", r.modified);
    j.field("deleted", r.deleted);
    j.field("renamed", r.renamed);
    j.field("unchanged", r.unchanged);
    j.field("new_dirs", r.new_dirs);
    j.field("deleted_dirs", r.deleted_dirs);
    j.field("excluded", r.excluded);
    j.field("special_skipped", r.special_skipped);
    j.field("files_hashed", r.files_hashed);
    j.field("bytes_hashed", r.bytes_hashed);
    j.field("left_to_hash", r.left_to_hash);
    j.field("stopped_early", r.stopped_early);
    problems_json(j, r.problems);
}

} // namespace barge::cli
