#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/output.hpp"
#include "barge/catalog/entries.hpp"
#include "barge/engine/scan.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace barge::cli {

namespace {

struct ScanCliOptions {
    std::vector<std::string> pairs;
    std::optional<std::string> max_time;
    bool accept_mass_change = false;
    bool dry_run = false;
};

ExitCode run_scan(const Globals& g, const ScanCliOptions& o) {
    ScanOptions opts;
    if (o.max_time) {
        opts.max_seconds = parse_duration(*o.max_time);
    }
    opts.accept_mass_change = o.accept_mass_change;
    Session s(g, "scan", Session::Lock::exclusive);
    opts.skip_dir = s.layout().root;
    auto pairs = s.select_pairs(o.pairs);
    std::optional<EndpointSync> sync;
    std::optional<Transaction> dry; // a dry run: everything inside it is rolled back
    if (o.dry_run) {
        dry.emplace(s.catalog().db());
        opts.hash = ScanOptions::Hash::no; // what would be hashed is counted instead
        opts.dry_run = true;
    } else {
        sync.emplace(s.catalog(), s.layout(), pairs);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "scan --dry-run" : "scan", "source", pairs);
    auto progress = make_progress(g, s, pairs);
    ExitCode code = ExitCode::ok;
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    j.key("pairs");
    j.begin_array();
    int64_t files = 0, bytes = 0, failed = 0;
    bool any_scanned = false;
    for (const auto& p : pairs) {
        j.begin_object();
        j.field("name", p.name);
        try {
            ScanResult r = scan_pair(s.catalog(), p, opts, progress.get());
            any_scanned = !o.dry_run;
            if (progress) {
                progress->finish();
            }
            if (o.dry_run) {
                auto todo = EntryStore(s.catalog().db(), 0).hash_work(p.id, 0);
                r.left_to_hash = todo.files;
                j.field("would_hash_bytes", todo.bytes);
            }
            scan_result_json(j, r);
            failures_if_quiet(g, r.problems);
            say(g, scan_result_text(g, o.dry_run ? "dry run (nothing recorded): " : "", p.name, r) +
                       (o.dry_run ? fmt::format("\n  would hash {} ({})", plural(r.left_to_hash, "file"),
                                                format_size(static_cast<uint64_t>(
                                                    EntryStore(s.catalog().db(), 0).hash_work(p.id, 0).bytes)))
                                  : ""));
            files += r.files_hashed;
            bytes += r.bytes_hashed;
            failed += static_cast<int64_t>(r.problems.size());
            if (!r.problems.empty() && code == ExitCode::ok) {
                code = ExitCode::partial;
            }
            spdlog::info("scan {}: {} new, {} modified, {} deleted, {} renamed, {} unchanged, "
                         "{} hashed ({} bytes)",
                         p.name, r.new_files, r.modified, r.deleted, r.renamed, r.unchanged,
                         r.files_hashed, r.bytes_hashed);
        } catch (const Refusal& e) {
            // One pair's refusal (missing marker, mass-change brake) does not stop the others.
            spdlog::error("{}", e.what());
            j.field("error", e.what());
            code = ExitCode::refused;
        }
        j.end_object();
    }
    j.end_array();
    j.end_object();
    // A scan refused for every pair leaves the catalog byte-identical (SPEC §4):
    // its record is only in the drive's log file.
    run.finish(code, files, bytes, failed, j,
               any_scanned ? RunRecorder::Record::always : RunRecorder::Record::if_started);
    if (g.json) {
        print_json(j);
    }
    if (sync) {
        code = worst(code, sync->backup(code));
    }
    return code;
}

} // namespace

void add_scan(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<ScanCliOptions>();
    auto* sub = app.add_subcommand(
        "scan", "source side: refresh the catalog (new, modified, deleted, renamed files) and "
                "hash new content, copying nothing; meant for cron");
    sub->add_option("PAIR", o->pairs, "pairs to scan (default: all)");
    sub->add_option("--max-time", o->max_time,
                    "stop hashing after this long (e.g. 30m, 2h); the next scan continues")
        ->option_text("DUR");
    sub->add_flag("-n,--dry-run", o->dry_run,
                  "scan the live source and print what changed, recording nothing (and hashing "
                  "nothing: it says what would be hashed)");
    sub->add_flag("--accept-mass-change", o->accept_mass_change,
                  "record the scan even if more than the pair's mass-change limit changed");
    sub->footer("Example: barge scan photos --max-time 2h");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_scan(g, *o); }; });
}

} // namespace barge::cli
