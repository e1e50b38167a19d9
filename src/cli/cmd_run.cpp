#include "barge/cli/commands.hpp"
#include "barge/cli/prompt.hpp"
#include "barge/cli/sides.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/scan.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

struct RunCliOptions {
    std::vector<std::string> pairs;
    bool dry_run = false;
};

// Asks on the terminal; false without one.
bool confirm(const std::string& question) {
    auto answer = ask(question + " [y/N]");
    return answer && (*answer == "y" || *answer == "Y" || *answer == "yes");
}

// What run does with one pair (SPEC §4), decided before anything is written.
struct Decision {
    enum class Do { load, unload, skip } what = Do::skip;
    std::string why;                // for a skipped pair
    ExitCode code = ExitCode::ok; // a skip that is an error (exit 2), or a note (ok)
};

Decision decide(const Globals& g, const RunCliOptions& o, const Pair& p) {
    auto src_missing = source_not_visible(p);
    DestState dst = dest_state(p);
    if (!src_missing && dst == DestState::visible) {
        return {Decision::Do::skip,
                fmt::format("both its source and its destination are visible here, so barge "
                            "cannot tell which side this is; run 'barge load {}' or 'barge "
                            "unload {}'",
                            p.name, p.name),
                ExitCode::refused};
    }
    if (!src_missing) {
        return {Decision::Do::load, "", ExitCode::ok};
    }
    if (dst == DestState::visible) {
        return {Decision::Do::unload, "", ExitCode::ok};
    }
    if (dst == DestState::claimable) {
        try {
            check_claimable(p);
        } catch (const Refusal& e) {
            return {Decision::Do::skip, e.what(), ExitCode::refused};
        }
        std::string q = fmt::format("pair '{}': claim '{}' as its destination and deliver the "
                                    "cargo there?",
                                    p.name, escape_bytes(p.dest));
        if (g.yes || o.dry_run || confirm(q)) {
            return {Decision::Do::unload, "", ExitCode::ok};
        }
        return {Decision::Do::skip,
                fmt::format("its destination '{}' is not claimed yet; run with --yes (or 'barge "
                            "unload {}') to claim it",
                            escape_bytes(p.dest), p.name),
                ExitCode::ok};
    }
    if (last_seen_here(p, End::source)) {
        return {Decision::Do::skip, *src_missing, ExitCode::refused};
    }
    if (last_seen_here(p, End::dest)) {
        return {Decision::Do::skip, dest_marker_missing(p).what(), ExitCode::refused};
    }
    return {Decision::Do::skip,
            "neither its source nor its destination is visible here: it is served at another site",
            ExitCode::ok};
}

// SPEC §4: the side of each pair, and why nothing can be done when neither.
ExitCode run_run(const Globals& g, const RunCliOptions& o) {
    Session s(g, "run", Session::Lock::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    // First: a stale catalog is refused whatever the sides (it writes nothing yet).
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        sync.emplace(s.catalog(), s.layout(), pairs);
    }
    std::vector<Decision> decisions;
    bool any = false;
    for (const auto& p : pairs) {
        decisions.push_back(decide(g, o, p));
        any = any || decisions.back().what != Decision::Do::skip;
    }
    // A pair left alone: at another site it is a note; where its disk should be
    // mounted (this machine saw it last), or when it needs an answer, an error.
    auto skipped = [&](const Pair& p, const Decision& d, JsonWriter* j) {
        if (d.code == ExitCode::ok) {
            say(g, fmt::format("{}: skipped: {}", p.name, d.why));
        } else {
            spdlog::error("pair '{}': {}", p.name, d.why);
        }
        if (j) {
            j->begin_object();
            j->field("name", p.name);
            j->field("side", "none");
            j->field(d.code == ExitCode::ok ? "skipped" : "error", d.why);
            j->end_object();
        }
        return PairOutcome{d.code};
    };
    if (!any) {
        // Automation must not read "nothing happened" as success (SPEC §4): exit 2,
        // each pair named with its reason; refused before anything is written.
        std::string list;
        for (size_t k = 0; k < pairs.size(); ++k) {
            skipped(pairs[k], decisions[k], nullptr);
            list += fmt::format("\n  {}: {}", pairs[k].name, decisions[k].why);
        }
        throw Refusal(pairs.empty()
                          ? std::string("this drive has no pairs yet: add one with 'barge pair add "
                                        "NAME SOURCE DEST'")
                          : "run: no pair was loaded or unloaded:" + list);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "run --dry-run" : "run", "auto", pairs);
    if (!o.dry_run) {
        run.start();
    }
    LoadOptions load_opts;
    load_opts.dry_run = o.dry_run;
    UnloadOptions unload_opts;
    unload_opts.dry_run = o.dry_run;
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    bool cargo_checked = false;
    size_t k = 0;
    return each_pair(
        s, g, run, sync ? &*sync : nullptr, j, pairs,
        [&](const Pair& p, CliProgress* progress) -> PairOutcome {
            const Decision& d = decisions[k++];
            switch (d.what) {
            case Decision::Do::load:
                if (!cargo_checked && !o.dry_run) {
                    check_cargo(s.catalog(), s.layout());
                    cargo_checked = true;
                }
                return load_one(s, g, p, load_opts, j, progress, run);
            case Decision::Do::unload:
                return unload_one(s, g, p, unload_opts, j, progress, run);
            case Decision::Do::skip:
                break;
            }
            return skipped(p, d, &j);
        },
        o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
}

} // namespace

void add_run(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<RunCliOptions>();
    auto* sub = app.add_subcommand(
        "run", "detect the side per pair and load (source visible) or unload (destination "
               "visible): the one command most users type");
    sub->add_option("PAIR", o->pairs, "pairs (default: all)");
    sub->add_flag("-n,--dry-run", o->dry_run, "print what each pair's load or unload would do; "
                                              "change nothing");
    sub->footer("Exit 2 when no pair could be loaded or unloaded (each is named with the reason).\n"
                "Example: barge run --yes   (e.g. from a udev rule when the drive is plugged in)");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_run(g, *o); }; });
}

} // namespace barge::cli
