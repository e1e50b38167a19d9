#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/util/size.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

ExitCode run_log(const Globals& g, int n) {
    Session s(g, "log", Session::Lock::shared);
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
    auto* sub = app.add_subcommand("log", "history of runs: when, where, which side, what moved");
    sub->add_option("-n", *n, "how many runs (default 20)")->option_text("N");
    sub->footer("Example: barge log -n 5");
    sub->callback([&g, &action, n] { action = [&g, n] { return run_log(g, *n); }; });
}

} // namespace barge::cli
