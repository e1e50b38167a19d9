#include "barge/cli/commands.hpp"
#include "barge/cli/prompt.hpp"
#include "barge/cli/sides.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

bool source_visible(const Pair& p) {
    try {
        check_source_visible(p);
        return true;
    } catch (const Refusal&) {
        return false;
    }
}

// Asks on the terminal; false without one.
bool confirm(const std::string& question) {
    auto answer = ask(question + " [y/N]");
    return answer && (*answer == "y" || *answer == "Y" || *answer == "yes");
}

ExitCode run_run(const Globals& g, const std::vector<std::string>& names) {
    Session s(g, "run", DriveLock::Mode::exclusive);
    auto pairs = s.select_pairs(names);
    EndpointSync sync(s.catalog(), pairs);
    RunRecorder run(s.catalog(), "run", "auto", pairs);
    run.start();
    auto progress = make_progress(g);
    JsonWriter j;
    j.begin_object();
    j.key("pairs");
    j.begin_array();
    Totals total;
    bool cargo_checked = false;
    auto add = [&](const PairOutcome& po) { total.add(po); };
    auto skip = [&](const Pair& p, const std::string& why) {
        say(g, fmt::format("{}: skipped: {}", p.name, why));
        j.begin_object();
        j.field("name", p.name);
        j.field("side", "none");
        j.field("skipped", why);
        j.end_object();
    };
    for (const auto& p : pairs) {
        bool src = source_visible(p);
        DestState dst = dest_state(p);
        if (src && dst == DestState::visible) {
            std::string why = fmt::format(
                "pair '{}': both its source and its destination are visible here, so barge cannot "
                "tell which side this is; run 'barge load {}' or 'barge unload {}'",
                p.name, p.name, p.name);
            spdlog::error("{}", why);
            j.begin_object();
            j.field("name", p.name);
            j.field("error", why);
            j.end_object();
            total.code = worst(total.code, ExitCode::refused);
        } else if (src) {
            if (!cargo_checked) {
                check_cargo(s.catalog(), s.layout());
                cargo_checked = true;
            }
            add(load_one(s, g, p, LoadOptions{}, j, progress.get()));
        } else if (dst == DestState::visible) {
            add(unload_one(s, g, p, UnloadOptions{}, j, progress.get()));
        } else if (dst == DestState::claimable) {
            std::string q = fmt::format("pair '{}': claim '{}' as its destination and deliver the "
                                        "cargo there?",
                                        p.name, escape_bytes(p.dest));
            if (g.yes || confirm(q)) {
                add(unload_one(s, g, p, UnloadOptions{}, j, progress.get()));
            } else {
                skip(p, fmt::format("its destination '{}' is not claimed yet; run with --yes (or "
                                    "'barge unload {}') to claim it",
                                    escape_bytes(p.dest), p.name));
            }
        } else {
            skip(p, "neither its source nor its destination is visible here");
        }
    }
    ExitCode code = finish_document(s, g, run, j, total);
    sync.backup(code);
    return code;
}

} // namespace

void add_run(CLI::App& app, Globals& g, Action& action) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* sub = app.add_subcommand(
        "run", "detect the side per pair and load (source visible) or unload (destination "
               "visible): the one command most users type");
    sub->add_option("PAIR", *names, "pairs (default: all)");
    sub->footer("Example: barge run --yes   (e.g. from a udev rule when the drive is plugged in)");
    sub->callback([&g, &action, names] { action = [&g, names] { return run_run(g, *names); }; });
}

} // namespace barge::cli
