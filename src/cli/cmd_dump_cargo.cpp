#include "barge/catalog/status_store.hpp"
#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/cli/prompt.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

ExitCode run_dump(const Globals& g, bool dry_run) {
    Session s(g, "dump-cargo", Session::Lock::exclusive);
    if (dry_run) {
        Counts c = StatusStore(s.catalog().db()).reclaimable();
        JsonWriter j;
        j.begin_object();
        j.field("dry_run", true);
        j.field("removed_pieces", c.files);
        j.field("removed_bytes", c.bytes);
        cargo_json(j, s.catalog(), s.layout());
        j.end_object();
        if (g.json) {
            print_json(j);
        } else {
            say(g, fmt::format("dry run: would remove {} ({}); nothing was changed",
                               plural(c.files, "delivered piece"),
                               format_size(static_cast<uint64_t>(c.bytes))));
        }
        return ExitCode::ok;
    }
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
    j.field("dry_run", false);
    j.field("removed_pieces", n);
    j.field("removed_bytes", bytes);
    cargo_json(j, s.catalog(), s.layout());
    j.end_object();
    run.finish(ExitCode::ok, n, bytes, 0, j);
    if (g.json) {
        print_json(j);
    } else {
        say(g, fmt::format("removed {} ({})", plural(n, "delivered piece"),
                           format_size(static_cast<uint64_t>(bytes))));
    }
    return ExitCode::ok;
}

} // namespace

void add_dump_cargo(CLI::App& app, Globals& g, Action& action) {
    auto* sub = app.add_subcommand(
        "dump-cargo", "remove delivered pieces from the cargo now (asks you to type Yes; --yes "
                      "skips); load also does this by itself when it needs room");
    sub->footer("Example: barge dump-cargo --yes");
    auto dry = std::make_shared<bool>(false);
    sub->add_flag("-n,--dry-run", *dry, "print what would be removed; change nothing");
    sub->callback([&g, &action, dry] { action = [&g, dry] { return run_dump(g, *dry); }; });
}

} // namespace barge::cli
