#include "barge/cli/commands.hpp"
#include "barge/cli/drive_log.hpp"
#include "barge/cli/output.hpp"
#include "barge/util/size.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>

namespace barge::cli {

namespace {

// The last n lines of the drive log (decrypted on an encrypted drive).
ExitCode print_drive_log(const Globals& g, Session& s, int n) {
    auto lines = read_drive_log(s.layout());
    size_t want = static_cast<size_t>(std::max(n, 0));
    size_t from = lines.size() > want ? lines.size() - want : 0;
    JsonWriter j;
    j.begin_object();
    j.key("lines");
    j.begin_array();
    std::string text;
    for (size_t i = from; i < lines.size(); ++i) {
        j.value(lines[i]);
        text += lines[i];
        text += "\n";
    }
    j.end_array();
    j.end_object();
    if (g.json) {
        print_json(j);
    } else if (!g.quiet) {
        std::fwrite(text.data(), 1, text.size(), stdout);
    }
    return ExitCode::ok;
}

ExitCode run_log(const Globals& g, int n, bool drive_log) {
    Session s(g, "log", Session::Lock::shared);
    if (drive_log) {
        return print_drive_log(g, s, n);
    }
    auto runs = s.catalog().runs(n);
    JsonWriter j;
    j.begin_object();
    j.key("runs");
    j.begin_array();
    std::string text;
    for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
        const RunRecord& r = *it;
        j.begin_object();
        j.field("started", format_utc(r.started_ns));
        time_json(j, "ended", r.ended_ns);
        j.field("host", r.host);
        j.field("command", r.command);
        j.field("side", r.side);
        j.field("pairs", r.pairs);
        j.key("exit_code");
        if (r.exit_code) {
            j.value(*r.exit_code);
        } else {
            j.null();
        }
        j.field("files", r.files);
        j.field("bytes", r.bytes);
        j.field("failed", r.failed);
        j.end_object();
        if (!text.empty()) {
            text += "\n";
        }
        text += fmt::format("{}  {:<8} {:<6} on {}  [{}]  {} files, {}, {} failed, {}",
                            format_utc(r.started_ns), r.command, r.side, r.host, r.pairs, r.files,
                            format_size(static_cast<uint64_t>(r.bytes)), r.failed,
                            r.exit_code ? fmt::format("exit {}", *r.exit_code)
                                        : std::string("did not finish"));
    }
    j.end_array();
    j.end_object();
    if (g.json) {
        print_json(j);
    } else {
        say(g, text.empty() ? "no runs yet" : text);
    }
    return ExitCode::ok;
}

} // namespace

void add_log(CLI::App& app, Globals& g, Action& action) {
    auto n = std::make_shared<int>(20);
    auto drive_log = std::make_shared<bool>(false);
    auto* sub = app.add_subcommand("log", "history of runs: when, where, which side, what moved");
    sub->add_option("-n", *n, "how many runs (default 20), or lines with --drive-log")->option_text("N");
    sub->add_flag("--drive-log", *drive_log,
                  "print the last N lines of the drive's own log (DRIVE/logs; decrypted on an "
                  "encrypted drive)");
    sub->footer("Example: barge log -n 5");
    sub->callback([&g, &action, n, drive_log] {
        action = [&g, n, drive_log] { return run_log(g, *n, *drive_log); };
    });
}

} // namespace barge::cli
