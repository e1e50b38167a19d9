// `barge drive list` and `barge drive lost ID` (SPEC §9; docs/rotation.md).
#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/drive_view.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/status.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

ExitCode run_list(const Globals& g) {
    Session s(g, "drive list", Session::Lock::shared);
    JsonWriter j;
    j.begin_object();
    j.key("pairs");
    j.begin_array();
    std::string text;
    for (const auto& p : s.catalog().pairs()) {
        auto drives = drive_views(s.catalog(), p, pair_status(s.catalog(), p, 0).on_cargo);
        j.begin_object();
        j.field("name", p.name);
        drives_json(j, drives);
        j.end_object();
        text += fmt::format("{}{}: {} -> {}\n", text.empty() ? "" : "\n", p.name, escape_bytes(p.source),
                            escape_bytes(p.dest));
        text += drives_text(drives);
    }
    j.end_array();
    j.end_object();
    if (g.json) {
        print_json(j);
    } else {
        say(g, text.empty() ? "no pairs yet" : text.substr(0, text.size() - 1));
    }
    return ExitCode::ok;
}

ExitCode run_lost(const Globals& g, const std::string& id_given, bool dry_run) {
    Session s(g, "drive lost", Session::Lock::exclusive);
    if (id_given == s.catalog().drive_id()) {
        throw Refusal("that is this drive: declare it lost from another drive of its pairs");
    }
    // The id or a unique prefix of one this drive knows.
    std::vector<std::string> matches;
    for (const auto& p : s.catalog().pairs()) {
        for (const auto& d : known_drives(s.catalog().db(), p.id)) {
            if (starts_with(d.drive_id, id_given) &&
                std::find(matches.begin(), matches.end(), d.drive_id) == matches.end()) {
                matches.push_back(d.drive_id);
            }
        }
    }
    if (matches.empty()) {
        throw Refusal(fmt::format("no drive '{}' is known to serve this drive's pairs ('barge drive "
                                  "list' shows the drives it knows)",
                                  id_given));
    }
    if (matches.size() > 1) {
        throw Refusal(fmt::format("'{}' names several drives: {}", id_given, fmt::join(matches, ", ")));
    }
    std::string id = matches.front();
    std::vector<std::string> pairs;
    int64_t files = 0, bytes = 0;
    for (const auto& p : s.catalog().pairs()) {
        for (const auto& d : known_drives(s.catalog().db(), p.id)) {
            if (d.drive_id == id) {
                pairs.push_back(p.name);
                files += d.lost_ns ? 0 : d.carries_files;
                bytes += d.lost_ns ? 0 : d.carries_bytes;
            }
        }
    }
    if (!dry_run) {
        mark_drive_lost(s.catalog(), id);
    }
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", dry_run);
    j.field("drive", id);
    j.key("pairs");
    j.begin_array();
    for (const auto& n : pairs) {
        j.value(n);
    }
    j.end_array();
    j.key("requeued");
    j.begin_object();
    j.field("files", files);
    j.field("bytes", bytes);
    j.end_object();
    j.end_object();
    if (g.json) {
        print_json(j);
    } else {
        say(g, fmt::format("{}drive {} {} lost (pairs {}): what only it carried, {} ({}) as last "
                           "known, is carried again by this drive's next load{}",
                           dry_run ? "dry run: " : "", id, dry_run ? "would be declared" : "declared",
                           fmt::join(pairs, ", "), plural(files, "file"),
                           format_size(static_cast<uint64_t>(bytes)),
                           dry_run ? " (nothing was changed)"
                                   : "; the other drives learn it at the endpoints this one visits"));
    }
    return ExitCode::ok;
}

} // namespace

void add_drive(CLI::App& app, Globals& g, Action& action) {
    auto* drive = app.add_subcommand("drive", "the drives that serve this drive's pairs (rotation)");
    drive->require_subcommand(1);
    auto* list = drive->add_subcommand(
        "list", "every drive known to serve this drive's pairs: what it carries, when it was last "
                "seen at each end, whether that knowledge is current");
    list->callback([&g, &action] { action = [&g] { return run_list(g); }; });

    auto id = std::make_shared<std::string>();
    auto dry = std::make_shared<bool>(false);
    auto* lost = drive->add_subcommand(
        "lost", "declare a drive lost: what only it carried is carried again by this drive");
    lost->add_option("ID", *id, "the drive's id (or a unique prefix), as 'drive list' shows it")->required();
    lost->add_flag("-n,--dry-run", *dry, "print what would change; change nothing");
    lost->footer("Example: barge drive lost 3f2a");
    lost->callback([&g, &action, id, dry] {
        action = [&g, id, dry] { return run_lost(g, *id, *dry); };
    });
}

} // namespace barge::cli
