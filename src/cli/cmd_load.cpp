#include "barge/cli/commands.hpp"
#include "barge/cli/sides.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/scan.hpp"
#include "barge/util/size.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

struct LoadCliOptions {
    std::vector<std::string> pairs;
    std::optional<std::string> max_bytes;
    bool dry_run = false;
    bool accept_mass_change = false;
};

ExitCode run_load(const Globals& g, const LoadCliOptions& o) {
    LoadOptions opts;
    if (o.max_bytes) {
        opts.max_bytes = parse_size(*o.max_bytes);
    }
    opts.dry_run = o.dry_run;
    opts.accept_mass_change = o.accept_mass_change;
    Session s(g, "load", DriveLock::Mode::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        // No pair's source visible (an unmounted disk): refused before anything is
        // written, so the catalog stays byte-identical (SPEC §4).
        std::optional<Refusal> none_visible;
        for (const auto& p : pairs) {
            try {
                check_source_visible(p);
                none_visible.reset();
                break;
            } catch (const Refusal& e) {
                none_visible = e;
            }
        }
        if (none_visible) {
            throw *none_visible;
        }
        sync.emplace(s.catalog(), pairs);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "load --dry-run" : "load", "source", pairs);
    int64_t requeued = 0;
    if (!o.dry_run) {
        run.start();
        requeued = check_cargo(s.catalog(), s.layout());
    }
    if (requeued) {
        say(g, fmt::format("{} pieces the catalog put on the cargo were missing or damaged: queued "
                           "again",
                           requeued));
    }
    auto progress = make_progress(g);
    JsonWriter j;
    j.begin_object();
    j.field("requeued_pieces", requeued);
    j.key("pairs");
    j.begin_array();
    Totals total;
    for (const auto& p : pairs) {
        total.add(load_one(s, g, p, opts, j, progress.get()));
    }
    ExitCode code = finish_document(
        s, g, run, j, total, o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
    if (sync) {
        sync->backup(code);
    }
    return code;
}

} // namespace

void add_load(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<LoadCliOptions>();
    auto* sub = app.add_subcommand(
        "load", "source side: scan, then fill the drive with what the destination lacks, every "
                "piece verified by reading it back from the drive");
    sub->add_option("PAIR", o->pairs, "pairs to load (default: all)");
    sub->add_option("--max-bytes", o->max_bytes, "carry at most this much this time (e.g. 200G)")
        ->option_text("SIZE");
    sub->add_flag("--dry-run", o->dry_run,
                  "print the plan (what goes, what stays) from the last scan; touch nothing");
    sub->add_flag("--accept-mass-change", o->accept_mass_change,
                  "record the scan even if more than the pair's mass-change limit changed");
    sub->footer("Example: barge load photos --max-bytes 500G");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_load(g, *o); }; });
}

} // namespace barge::cli
