#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/path.hpp"
#include "barge/util/glob.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cstring>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge::cli {

namespace {

struct AddOptions {
    std::string name, source, dest;
    std::vector<std::string> excludes;
    std::string reserve = "1GiB";
    std::string on_delete = "keep";
    int retention = 90;
    double mass_change_limit = 25;
    bool no_source_marker = false;
};

void check_pair_name(const std::string& name) {
    bool ok = !name.empty() && name.size() <= 64 && name.front() != '-' && name.front() != '.';
    for (char c : name) {
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
    }
    if (!ok) {
        throw Refusal(fmt::format("invalid pair name '{}': use 1 to 64 letters, digits, '-', '_' "
                                  "or '.', not starting with '-' or '.'",
                                  escape_bytes(name)));
    }
}

ExitCode run_add(const Globals& g, const AddOptions& o) {
    check_pair_name(o.name);
    Session s(g, "pair add", DriveLock::Mode::exclusive);
    PairSettings ps;
    ps.name = o.name;
    ps.source = absolute_path(o.source);
    ps.dest = absolute_path(o.dest);
    ps.reserve = parse_size_spec(o.reserve);
    if (o.on_delete != "keep" && o.on_delete != "trash") {
        throw Refusal(fmt::format("invalid --on-delete '{}': use keep or trash", o.on_delete));
    }
    ps.on_delete = o.on_delete == "trash" ? OnDelete::trash : OnDelete::keep;
    if (o.retention < 0) {
        throw Refusal("invalid --retention: days must be 0 or more");
    }
    ps.retention_days = o.retention;
    if (o.mass_change_limit < 0 || o.mass_change_limit > 100) {
        throw Refusal("invalid --mass-change-limit: a percentage from 0 to 100");
    }
    ps.mass_change_limit = o.mass_change_limit;
    ps.source_marker = !o.no_source_marker;
    ExcludeSet check(o.excludes); // validates every pattern
    ps.excludes = o.excludes;
    struct stat st{};
    if (::stat(ps.source.c_str(), &st) != 0) {
        throw Refusal(fmt::format("source '{}': {}", escape_bytes(ps.source), std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("source '{}' is not a directory", escape_bytes(ps.source)));
    }
    if (s.catalog().find_pair(o.name)) {
        throw Refusal(fmt::format("a pair named '{}' already exists on this drive", o.name));
    }
    std::string uuid = new_uuid();
    if (ps.source_marker) {
        // Marker first: a crash in between leaves a harmless marker, never a pair
        // whose source cannot be recognized.
        try {
            write_marker(ps.source, {uuid, ps.name, s.catalog().drive_id(), Role::source});
        } catch (const SystemError& e) {
            throw Refusal(fmt::format("cannot write the source marker: {} (for a read-only "
                                      "source, use --no-source-marker)",
                                      e.what()));
        }
    }
    Pair p = s.catalog().add_pair(ps, uuid);
    if (g.json) {
        JsonWriter j;
        j.begin_object();
        j.field("name", p.name);
        j.field("id", p.uuid);
        j.field("source", p.source);
        j.field("dest", p.dest);
        j.end_object();
        print_json(j);
    } else {
        say(g, fmt::format("added pair {}: {} -> {}{}", p.name, escape_bytes(p.source),
                           escape_bytes(p.dest),
                           p.source_marker ? "" : " (no source marker: an empty source is refused)"));
    }
    return ExitCode::ok;
}

void pair_json(JsonWriter& j, const Pair& p) {
    j.begin_object();
    j.field("name", p.name);
    j.field("id", p.uuid);
    j.field("source", p.source);
    j.field("dest", p.dest);
    j.key("excludes");
    j.begin_array();
    for (const auto& e : p.excludes) {
        j.value(e);
    }
    j.end_array();
    j.field("reserve", p.reserve.is_percent() ? p.reserve.to_string() : std::to_string(p.reserve.bytes));
    j.field("on_delete", p.on_delete == OnDelete::trash ? "trash" : "keep");
    j.field("retention_days", p.retention_days);
    j.field("mass_change_limit", p.mass_change_limit);
    j.field("source_marker", p.source_marker);
    j.field("dest_claimed", p.dest_claimed_ns.has_value());
    j.end_object();
}

ExitCode run_list(const Globals& g) {
    Session s(g, "pair list", DriveLock::Mode::shared);
    auto pairs = s.catalog().pairs();
    if (g.json) {
        JsonWriter j;
        j.begin_object();
        j.key("pairs");
        j.begin_array();
        for (const auto& p : pairs) {
            pair_json(j, p);
        }
        j.end_array();
        j.end_object();
        print_json(j);
        return ExitCode::ok;
    }
    if (pairs.empty()) {
        say(g, "no pairs yet: add one with 'barge pair add NAME SOURCE DEST'");
    }
    for (const auto& p : pairs) {
        std::string reserve = p.reserve.is_percent() ? p.reserve.to_string() : format_size(p.reserve.bytes);
        std::string text = fmt::format("{}: {} -> {}\n  reserve {}, on delete {}, retention {} "
                                       "days, mass-change limit {}%{}{}",
                                       p.name, escape_bytes(p.source), escape_bytes(p.dest), reserve,
                                       p.on_delete == OnDelete::trash ? "trash" : "keep",
                                       p.retention_days, p.mass_change_limit,
                                       p.source_marker ? "" : ", no source marker",
                                       p.dest_claimed_ns ? ", destination claimed" : "");
        for (const auto& e : p.excludes) {
            text += "\n  exclude " + e;
        }
        say(g, text);
    }
    return ExitCode::ok;
}

ExitCode run_remove(const Globals& g, const std::string& name) {
    Session s(g, "pair remove", DriveLock::Mode::exclusive);
    Pair p = s.select_pairs({name}).front();
    PairStatus st = pair_status(s.catalog(), p);
    if (st.on_cargo.bytes > 0 && !g.yes) {
        throw Refusal(fmt::format("pair '{}' still has {} files ({}) on the cargo awaiting "
                                  "delivery; deliver them first, or remove anyway with --yes",
                                  p.name, st.on_cargo.files, format_size(static_cast<uint64_t>(st.on_cargo.bytes))));
    }
    s.catalog().remove_pair(p.id);
    // The markers only matter to this pair; one not visible here stays behind, harmless.
    for (auto [root, role] : {std::pair{p.source, Role::source}, std::pair{p.dest, Role::dest}}) {
        try {
            remove_marker(root, p.uuid, role);
        } catch (const SystemError& e) {
            warn(e.what());
        }
    }
    if (g.json) {
        JsonWriter j;
        j.begin_object();
        j.field("removed", p.name);
        j.end_object();
        print_json(j);
    } else {
        say(g, fmt::format("removed pair {}", p.name));
    }
    return ExitCode::ok;
}

} // namespace

void add_pair(CLI::App& app, Globals& g, Action& action) {
    auto* pair = app.add_subcommand("pair", "add, list and remove pairs (source -> destination)");
    pair->require_subcommand(1);

    auto o = std::make_shared<AddOptions>();
    auto* add = pair->add_subcommand("add", "add a pair: SOURCE at home mirrored to DEST offsite");
    add->add_option("NAME", o->name, "a short name for the pair")->required();
    add->add_option("SOURCE", o->source, "the source directory (at home)")->required();
    add->add_option("DEST", o->dest, "the destination directory (offsite; may be the same path)")
        ->required();
    add->add_option("--exclude", o->excludes,
                    "gitignore-style pattern to leave out (repeatable): '*.tmp', 'cache/', "
                    "'**/node_modules'")
        ->option_text("GLOB");
    add->add_option("--reserve", o->reserve,
                    "free space always left on the drive and at the destination (default 1GiB; "
                    "e.g. 500M, 2GiB, 5%)")
        ->option_text("SIZE");
    add->add_option("--on-delete", o->on_delete,
                    "keep: leave files deleted at the source at the destination; trash: move "
                    "them to DEST/.barge/trash (default keep)")
        ->option_text("keep|trash");
    add->add_option("--retention", o->retention,
                    "days to keep trash and old versions at the destination (default 90)")
        ->option_text("DAYS");
    add->add_option("--mass-change-limit", o->mass_change_limit,
                    "refuse a scan that finds more than this share of known files deleted or "
                    "modified (default 25)")
        ->option_text("PCT");
    add->add_flag("--no-source-marker", o->no_source_marker,
                  "do not write SOURCE/.barge (read-only source; an empty source is refused)");
    add->footer("Example: barge pair add photos /srv/photos /mnt/backup/photos --exclude '*.tmp'");
    add->callback([&g, &action, o] { action = [&g, o] { return run_add(g, *o); }; });

    auto* list = pair->add_subcommand("list", "list the pairs on this drive");
    list->footer("Example: barge pair list --json");
    list->callback([&g, &action] { action = [&g] { return run_list(g); }; });

    auto name = std::make_shared<std::string>();
    auto* rm = pair->add_subcommand("remove", "remove a pair (refused while it has undelivered "
                                              "cargo, unless --yes)");
    rm->add_option("NAME", *name, "the pair")->required();
    rm->footer("Example: barge pair remove photos");
    rm->callback([&g, &action, name] { action = [&g, name] { return run_remove(g, *name); }; });
}

} // namespace barge::cli
