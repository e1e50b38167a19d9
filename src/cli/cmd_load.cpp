#include "barge/cli/commands.hpp"
#include "barge/cli/sides.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/scan.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

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
    Session s(g, "load", Session::Lock::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    // No pair's source visible (an unmounted disk): refused before anything is
    // written, so the catalog stays byte-identical (SPEC §4).
    std::optional<std::string> none_visible;
    for (const auto& p : pairs) {
        none_visible = source_not_visible(p);
        if (!none_visible) {
            break;
        }
    }
    if (none_visible) {
        throw Refusal(*none_visible);
    }
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        sync.emplace(s.catalog(), s.layout(), pairs);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "load --dry-run" : "load", "source", pairs);
    int64_t requeued = 0;
    if (!o.dry_run) {
        run.start();
        requeued = check_cargo(s.catalog(), s.layout());
    }
    if (requeued) {
        say(g, fmt::format("{} the catalog put on the cargo {} missing or damaged: queued again",
                           plural(requeued, "piece"), requeued == 1 ? "was" : "were"));
    }
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    j.field("requeued_pieces", requeued);
    return each_pair(
        s, g, run, sync ? &*sync : nullptr, j, pairs,
        [&](const Pair& p, CliProgress* progress) { return load_one(s, g, p, opts, j, progress, run); },
        o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
}

} // namespace

void add_load(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<LoadCliOptions>();
    auto* sub = app.add_subcommand(
        "load", "source side: scan, then fill the drive with what the destination lacks, every "
                "piece verified by reading it back from the drive");
    sub->add_option("PAIR", o->pairs, "pairs to load (default: all)");
    sub->add_option("--max-bytes", o->max_bytes, "carry at most this much this run, all pairs together (e.g. 200G)")
        ->option_text("SIZE");
    sub->add_flag("-n,--dry-run", o->dry_run,
                  "scan the live source without recording it and print the plan (what goes, "
                  "what stays and why); change nothing");
    sub->add_flag("--accept-mass-change", o->accept_mass_change,
                  "record the scan even if more than the pair's mass-change limit changed");
    sub->footer("Example: barge load photos --max-bytes 500G");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_load(g, *o); }; });
}

} // namespace barge::cli
