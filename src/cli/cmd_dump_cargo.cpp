#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/cli/prompt.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/util/size.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

ExitCode run_dump(const Globals& g) {
    Session s(g, "dump-cargo", Session::Lock::exclusive);
    if (!g.yes) {
        auto answer = ask("Remove every delivered piece from the cargo now? Type Yes:");
        if (!answer) {
            throw Refusal("dump-cargo removes delivered pieces from the cargo: confirm with --yes "
                          "when not running from a terminal");
        }
        if (*answer != "Yes") {
            say(g, "nothing removed");
            return ExitCode::ok;
        }
    }
    RunRecorder run(s.catalog(), "dump-cargo", "drive", s.catalog().pairs());
    auto [n, bytes] = reclaim_pieces(s.catalog(), s.layout());
    JsonWriter j;
    j.begin_object();
    j.field("removed_pieces", n);
    j.field("removed_bytes", bytes);
    cargo_json(j, s.catalog(), s.layout());
    j.end_object();
    run.finish(ExitCode::ok, n, bytes, 0, j.str());
    if (g.json) {
        print_json(j);
    } else {
        say(g, fmt::format("removed {} delivered pieces ({})", n, format_size(static_cast<uint64_t>(bytes))));
    }
    return ExitCode::ok;
}

} // namespace

void add_dump_cargo(CLI::App& app, Globals& g, Action& action) {
    auto* sub = app.add_subcommand(
        "dump-cargo", "remove delivered pieces from the cargo now (asks you to type Yes; --yes "
                      "skips); load also does this by itself when it needs room");
    sub->footer("Example: barge dump-cargo --yes");
    sub->callback([&g, &action] { action = [&g] { return run_dump(g); }; });
}

} // namespace barge::cli
