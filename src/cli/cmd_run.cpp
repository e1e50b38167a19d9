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

// SPEC §4: which side a pair is on here, and why nothing can be done when neither.
ExitCode run_run(const Globals& g, const RunCliOptions& o) {
    Session s(g, "run", Session::Lock::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        sync.emplace(s.catalog(), pairs);
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
    int handled = 0;
    std::vector<std::string> why_not; // one line per pair not handled
    // A pair left alone: at another site it is a note; where its disk should be
    // mounted (this machine saw it last), or when it needs an answer, an error.
    auto skip = [&](const Pair& p, const std::string& why, ExitCode code) {
        why_not.push_back(fmt::format("{}: {}", p.name, why));
        if (code == ExitCode::ok) {
            say(g, fmt::format("{}: skipped: {}", p.name, why));
        } else {
            spdlog::error("pair '{}': {}", p.name, why);
        }
        j.begin_object();
        j.field("name", p.name);
        j.field("side", "none");
        j.field(code == ExitCode::ok ? "skipped" : "error", why);
        j.end_object();
        return PairOutcome{code};
    };
    ExitCode code = each_pair(
        s, g, run, sync ? &*sync : nullptr, j, pairs,
        [&](const Pair& p, CliProgress* progress) -> PairOutcome {
            auto src_missing = source_not_visible(p);
            DestState dst = dest_state(p);
            if (!src_missing && dst == DestState::visible) {
                return skip(p,
                            fmt::format("both its source and its destination are visible here, "
                                        "so barge cannot tell which side this is; run 'barge "
                                        "load {}' or 'barge unload {}'",
                                        p.name, p.name),
                            ExitCode::refused);
            }
            if (!src_missing) {
                if (!cargo_checked && !o.dry_run) {
                    check_cargo(s.catalog(), s.layout());
                    cargo_checked = true;
                }
                ++handled;
                return load_one(s, g, p, load_opts, j, progress, run);
            }
            if (dst == DestState::visible) {
                ++handled;
                return unload_one(s, g, p, unload_opts, j, progress, run);
            }
            if (dst == DestState::claimable) {
                std::string q = fmt::format("pair '{}': claim '{}' as its destination and deliver "
                                            "the cargo there?",
                                            p.name, escape_bytes(p.dest));
                if (g.yes || o.dry_run || confirm(q)) {
                    ++handled;
                    return unload_one(s, g, p, unload_opts, j, progress, run);
                }
                return skip(p,
                            fmt::format("its destination '{}' is not claimed yet; run with --yes "
                                        "(or 'barge unload {}') to claim it",
                                        escape_bytes(p.dest), p.name),
                            ExitCode::ok);
            }
            if (last_seen_here(p, End::source)) {
                return skip(p, *src_missing, ExitCode::refused);
            }
            if (last_seen_here(p, End::dest)) {
                return skip(p, dest_marker_missing(p).what(), ExitCode::refused);
            }
            return skip(p,
                        "neither its source nor its destination is visible here: it is served "
                        "at another site",
                        ExitCode::ok);
        },
        o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always,
        [&](ExitCode code) {
            if (pairs.empty()) {
                spdlog::error("run: this drive has no pairs yet: add one with 'barge pair add "
                              "NAME SOURCE DEST'");
                return worst(code, ExitCode::refused);
            }
            if (handled == 0) {
                // Automation must not read "nothing happened" as success (SPEC §4).
                std::string list;
                for (const auto& w : why_not) {
                    list += "\n  " + w;
                }
                spdlog::error("run: no pair was loaded or unloaded:{}", list);
                j.field("error", "no pair was loaded or unloaded");
                return worst(code, ExitCode::refused);
            }
            return code;
        });
    return code;
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
