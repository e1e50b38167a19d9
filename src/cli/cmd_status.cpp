#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/cli/progress.hpp"
#include "barge/cli/status_report.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/crypto/sealed_log.hpp"
#include "barge/fs/lock.hpp"
#include "barge/fs/space.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace barge::cli {

namespace {

struct StatusCli {
    std::vector<std::string> pairs;
    bool check = false;
    bool metrics = false;
    std::string max_age = "30d";
};

// While a barge works on the drive its catalog is in use: the report is the
// snapshot it left in the lock file when it began, with what it is doing now.
std::optional<DriveReport> running_report(const DriveLayout& layout) {
    auto holder = DriveLock::holder(layout.root);
    if (!holder) {
        return std::nullopt;
    }
    std::string text = holder->record;
    if (text.starts_with(sealed_record_prefix)) {
        auto opened = layout.keys ? open_note(layout.keys->logs, text.substr(std::strlen(sealed_record_prefix)))
                                  : std::nullopt;
        text = opened.value_or("");
    }
    auto record = parse_json(text);
    DriveReport r;
    if (record) {
        r = report_from_json((*record)["status"]);
    }
    r.root = layout.root;
    DriveReport::Running run;
    run.who = holder->who;
    if (record) {
        const JsonValue& x = *record;
        run.command = x["command"].str();
        run.phase = x["phase"].str();
        run.since = x["since"].str();
        run.updated = x["updated"].str();
        run.eta = x["eta"].str();
        run.files = x["files"].num();
        run.total_files = x["total_files"].num();
        run.bytes = x["bytes"].num();
        run.total_bytes = x["total_bytes"].num();
        run.bytes_per_second = x["bytes_per_second"].num();
    }
    r.running = run;
    Space sp = fs_space(layout.root); // free space is live
    r.free = sp.available;
    r.capacity = sp.capacity;
    return r;
}

ExitCode run_status(const Globals& g, const StatusCli& o) {
    double max_age = parse_duration(o.max_age);
    DriveLayout layout = find_drive(g.drive);
    unlock(layout, g); // an encrypted drive: the running barge's record is sealed
    std::optional<DriveReport> report = running_report(layout);
    if (report) {
        if (!o.pairs.empty()) {
            std::erase_if(report->pairs, [&](const PairReport& p) {
                return std::find(o.pairs.begin(), o.pairs.end(), p.name) == o.pairs.end();
            });
        }
    } else {
        // No lock: status never waits for, nor stands in the way of, a writer.
        Session s(g, "status", Session::Lock::none);
        report = collect_report(s, s.select_pairs(o.pairs));
    }
    int64_t now = now_ns();
    if (o.metrics) {
        std::string text = report_metrics(*report, now, max_age);
        std::fwrite(text.data(), 1, text.size(), stdout);
        return ExitCode::ok;
    }
    std::vector<std::string> problems;
    if (o.check) {
        problems = report_problems(*report, now, max_age);
    }
    if (g.json) {
        JsonWriter j;
        j.begin_object();
        report_json(j, *report);
        if (o.check) {
            j.key("check");
            j.begin_array();
            for (const auto& p : problems) {
                j.value(p);
            }
            j.end_array();
        }
        j.end_object();
        print_json(j);
    } else if (o.check) {
        // One line per problem, on stdout (what monitoring mails); nothing when healthy.
        for (const auto& p : problems) {
            std::fwrite(p.data(), 1, p.size(), stdout);
            std::fputc('\n', stdout);
        }
    } else {
        say(g, report_text(*report));
    }
    return problems.empty() ? ExitCode::ok : ExitCode::stopped;
}

} // namespace

void add_status(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<StatusCli>();
    auto* sub = app.add_subcommand("status", "per pair: what waits at the source, what is on the "
                                             "cargo, what was delivered or failed; the cargo; what a "
                                             "running barge is doing");
    sub->add_option("PAIR", o->pairs, "pairs to show (default: all)");
    sub->add_flag("--check", o->check,
                  "for monitoring: exit 0 only if every pair's last load, unload and "
                  "verify-destination succeeded and are younger than --max-age, no file failed "
                  "and none left uncarried for longer than --max-age since a read found it "
                  "changing; one line per problem, exit 1 otherwise");
    sub->add_option("--max-age", o->max_age, "with --check and --metrics (default 30d)")
        ->option_text("DUR");
    sub->add_flag("--metrics", o->metrics,
                  "print the same facts in the Prometheus text format (for node_exporter's "
                  "textfile collector)");
    sub->footer("Examples: barge status --json\n"
                "          barge status --check --max-age 14d || mail -s barge admin\n"
                "          barge status --metrics > /var/lib/node_exporter/textfile_collector/barge.prom");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_status(g, *o); }; });
}

} // namespace barge::cli
