#include "barge/cli/commands.hpp"
#include "barge/cli/sides.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/unload.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>

namespace barge::cli {

namespace {

struct UnloadCliOptions {
    std::vector<std::string> pairs;
    bool dry_run = false;
};

ExitCode run_unload(const Globals& g, const UnloadCliOptions& o) {
    UnloadOptions opts;
    opts.dry_run = o.dry_run;
    Session s(g, "unload", Session::Lock::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    // No destination visible or claimable: refused before anything is written.
    bool any = std::any_of(pairs.begin(), pairs.end(), [](const Pair& p) {
        return dest_state(p) != DestState::not_visible || !p.dest_claimed_ns;
    });
    if (!any && !pairs.empty()) {
        throw dest_marker_missing(pairs.front());
    }
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        sync.emplace(s.catalog(), s.layout(), pairs);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "unload --dry-run" : "unload", "destination", pairs);
    if (!o.dry_run) {
        run.start();
    }
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    return each_pair(
        s, g, run, sync ? &*sync : nullptr, j, pairs,
        [&](const Pair& p, CliProgress* progress) { return unload_one(s, g, p, opts, j, progress, run); },
        o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
}

} // namespace

void add_unload(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<UnloadCliOptions>();
    auto* sub = app.add_subcommand(
        "unload", "destination side: deliver everything on the cargo, each piece re-hashed "
                  "before it is written and each file verified before it takes its name");
    sub->add_option("PAIR", o->pairs, "pairs to unload (default: all)");
    sub->add_flag("-n,--dry-run", o->dry_run,
                  "print what would be delivered, moved to the trash or kept as an old version; "
                  "change nothing");
    sub->footer("Example: barge unload photos");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_unload(g, *o); }; });
}

} // namespace barge::cli
