#include "barge/catalog/status_store.hpp"
#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/glob.hpp"
#include "barge/util/path.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace barge::cli {

namespace {

// The options of `pair add` that `pair set` can change; unset ones keep their value.
struct OptionsCli {
    std::optional<std::vector<std::string>> excludes;
    bool clear_excludes = false;
    std::optional<std::string> reserve, on_delete;
    std::optional<int> retention;
    std::optional<double> mass_change_limit;
    std::optional<int64_t> mass_change_min;
    bool dry_run = false;

    // Whether an option the drives serving the pair share is given: all but
    // --reserve, which is each drive's own.
    bool shared() const {
        return excludes || clear_excludes || on_delete || retention || mass_change_limit ||
               mass_change_min;
    }
};

struct AddCli : OptionsCli {
    std::string name, source, dest;
    bool no_source_marker = false;
    bool separate = false;
};

struct SetCli : OptionsCli {
    std::string name;
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

// The stamp of options set now, over `stored`: past it even where the host
// that stamped it had a clock ahead of this one's (a Lamport clock, as the
// order stamps: SPEC §9), so the change made last wins; and at most just past
// the bound of what a drive learns from another (a forged copy's stamp).
int64_t options_stamp_after(int64_t stored) {
    return std::max(now_ns(), std::min(stored, order_stamp_learn_bound - 1) + 1);
}

// Applies and validates the options given; throws Refusal naming a bad one.
void apply(PairSettings& ps, const OptionsCli& o) {
    if (o.reserve) {
        ps.reserve = parse_size_spec(*o.reserve);
    }
    if (o.on_delete) {
        if (*o.on_delete != "keep" && *o.on_delete != "trash") {
            throw Refusal(fmt::format("invalid --on-delete '{}': use keep or trash", *o.on_delete));
        }
        ps.on_delete = *o.on_delete == "trash" ? OnDelete::trash : OnDelete::keep;
    }
    if (o.retention) {
        if (*o.retention < 0) {
            throw Refusal("invalid --retention: days must be 0 or more");
        }
        ps.retention_days = *o.retention;
    }
    if (o.mass_change_limit) {
        if (*o.mass_change_limit < 0 || *o.mass_change_limit > 100) {
            throw Refusal("invalid --mass-change-limit: a percentage from 0 to 100");
        }
        ps.mass_change_limit = *o.mass_change_limit;
    }
    if (o.mass_change_min) {
        if (*o.mass_change_min < 0) {
            throw Refusal("invalid --mass-change-min: a number of files, 0 or more");
        }
        ps.mass_change_min = *o.mass_change_min;
    }
    if (o.clear_excludes) {
        ps.excludes.clear();
    }
    if (o.excludes) {
        ExcludeSet check(*o.excludes); // validates every pattern
        ps.excludes.insert(ps.excludes.end(), o.excludes->begin(), o.excludes->end());
    }
}

// The path with symlinks resolved where it exists here, else as written.
std::string resolved(const std::string& path) {
    char buf[PATH_MAX];
    return ::realpath(path.c_str(), buf) ? std::string(buf) : path;
}

bool inside(const std::string& path, const std::string& dir) {
    return dir == "/" ? path != "/" : starts_with(path, dir + "/");
}

// SPEC §5: refuse '/', a source that contains the drive or lies inside it, and a
// destination inside the source.
void check_roots(const std::string& source, const std::string& dest, const std::string& drive) {
    for (const auto& [what, path] : {std::pair{"source", source}, std::pair{"destination", dest}}) {
        if (resolved(path) == "/") {
            throw Refusal(fmt::format("the {} cannot be '/': name the directory to back up", what));
        }
    }
    std::string src = resolved(source), drv = resolved(drive);
    if (src == drv || inside(drv, src)) {
        throw Refusal(fmt::format("source '{}' contains the drive '{}': the drive would carry "
                                  "itself; put the drive outside the source",
                                  escape_bytes(source), escape_bytes(drive)));
    }
    if (inside(src, drv)) {
        throw Refusal(fmt::format("source '{}' lies inside the drive '{}'", escape_bytes(source),
                                  escape_bytes(drive)));
    }
    if (inside(dest, source) || inside(resolved(dest), src)) {
        throw Refusal(fmt::format("destination '{}' lies inside the source '{}': each delivery "
                                  "would be scanned and carried again",
                                  escape_bytes(dest), escape_bytes(source)));
    }
}

void say_warnings(const std::vector<std::string>& warnings, JsonWriter& j) {
    j.key("warnings");
    j.begin_array();
    for (const auto& w : warnings) {
        warn(w);
        j.value(w);
    }
    j.end_array();
}

// A pair added at a source that holds the marker of another drive's pair whose
// destination no copy there tells (that drive has not loaded there yet, or its
// copy is gone or unreadable) would be a second, independent pair where the user
// most likely meant to join that one (SPEC §9): at a shared destination, nothing
// would order the two drives' deliveries. Refused; --separate says an
// independent pair is meant. Markers this drive wrote, or of its own pairs, are
// never in its way.
void refuse_unknown_pairs(const std::string& source, const JoinLookup& found, Catalog& catalog) {
    std::set<std::string> own;
    for (const auto& p : catalog.pairs()) {
        own.insert(p.uuid);
    }
    for (const auto& m : found.unknown) {
        if (own.contains(m.pair_uuid) || m.drive_id == catalog.drive_id()) {
            continue;
        }
        throw Refusal(fmt::format(
            "'{}' holds the marker of pair '{}' ({}) of drive {}, and no catalog copy there tells "
            "which destination it serves{}. A drive joins a pair through the copy of the other "
            "drive's catalog that its load leaves in the source's .barge/: load once with drive "
            "{} (its key saved there, if it is encrypted), then add the pair here again. For an "
            "independent pair (another destination, or a drive that is gone for good), add it "
            "with --separate",
            escape_bytes(source), escape_bytes(m.pair_name), escape_bytes(m.pair_uuid),
            escape_bytes(m.drive_id),
            found.notes.empty() ? "" : fmt::format(" ({})", fmt::join(found.notes, "; ")),
            escape_bytes(m.drive_id)));
    }
}

ExitCode run_add(const Globals& g, const AddCli& o) {
    check_pair_name(o.name);
    Session s(g, "pair add", Session::Lock::exclusive);
    PairSettings ps;
    ps.name = o.name;
    ps.source = absolute_path(o.source);
    ps.dest = absolute_path(o.dest);
    apply(ps, o);
    ps.source_marker = !o.no_source_marker;
    ps.options_ns = options_stamp_after(0);
    struct stat st{};
    if (::stat(ps.source.c_str(), &st) != 0) {
        throw Refusal(fmt::format("source '{}': {}", escape_bytes(ps.source), std::strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("source '{}' is not a directory", escape_bytes(ps.source)));
    }
    check_roots(ps.source, ps.dest, s.layout().root);
    // Two pairs of this drive delivering into one destination, or one inside the
    // other's, would mix their trees: one's deletions would reach the other's
    // files at the same names, and one trash and versions folder (per
    // destination) would be pruned at the shortest of their retentions. (A name
    // taken is add_pair's refusal.)
    for (const auto& other : s.catalog().pairs()) {
        std::string mine = resolved(ps.dest), theirs = resolved(other.dest);
        if (other.name != ps.name &&
            (mine == theirs || inside(mine, theirs) || inside(theirs, mine))) {
            throw Refusal(fmt::format("destination '{}' overlaps the destination '{}' of pair "
                                      "'{}' on this drive: two pairs cannot share one, nor nest "
                                      "one in the other; give each a directory of its own",
                                      escape_bytes(ps.dest), escape_bytes(other.dest), other.name));
        }
    }
    if (s.catalog().find_pair(o.name)) {
        throw Refusal(fmt::format("a pair named '{}' already exists on this drive", o.name));
    }
    // Another drive already serves SOURCE -> DEST (SPEC §9): this drive joins
    // that pair (same id, the pair's options; the reserve is this drive's).
    std::optional<PairToJoin> join;
    std::vector<std::string> warnings;
    if (!o.separate && ps.source_marker) {
        JoinLookup found =
            find_pair_to_join(ps.source, ps.dest, s.catalog().drive_id(), saved_keys_for_copy);
        if (!found.join) {
            refuse_unknown_pairs(ps.source, found, s.catalog());
        }
        join = std::move(found.join);
        warnings = std::move(found.notes);
    }
    if (join) {
        if (o.shared()) {
            throw Refusal(fmt::format(
                "'{}' -> '{}' is already served by pair '{}' of another drive, which this drive "
                "joins: its excludes and options are the pair's (only --reserve is this drive's "
                "own). Add it without them and change them with 'barge pair set' (the change "
                "reaches the other drives), or use --separate for an independent pair",
                escape_bytes(ps.source), escape_bytes(ps.dest), join->pair.name));
        }
        SizeSpec reserve = ps.reserve;
        static_cast<PairSettings&>(ps) = join->pair; // its options' stamp too (bounded:
        ps.options_ns = std::min(ps.options_ns, order_stamp_learn_bound); // a forged copy's)
        ps.name = o.name;
        ps.reserve = reserve;
        ps.source_marker = true;
    }
    Pair preview;
    static_cast<PairSettings&>(preview) = ps;
    if (auto w = reserve_warning(s.layout(), preview)) {
        warnings.push_back(*w);
    }
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    j.field("name", ps.name);
    j.field("source", ps.source);
    j.field("dest", ps.dest);
    if (o.dry_run) {
        j.key("id");
        j.null();
        say_warnings(warnings, j);
        j.end_object();
        say(g, fmt::format("dry run: would add pair {}: {} -> {}{} (nothing was changed)", ps.name,
                           escape_bytes(ps.source), escape_bytes(ps.dest),
                           ps.source_marker ? ", writing its marker in the source's .barge/" : ""));
    } else {
        std::string uuid = join ? join->pair.uuid : new_uuid();
        if (ps.source_marker && !join) {
            // Marker first: a crash in between leaves a marker (of this drive: it is
            // never in this drive's own way), never a pair whose source cannot be
            // recognized.
            try {
                write_marker(ps.source, {uuid, ps.name, s.catalog().drive_id(), Role::source});
            } catch (const SystemError& e) {
                throw Refusal(fmt::format("cannot write the source marker: {} (for a read-only "
                                          "source, use --no-source-marker)",
                                          e.what()));
            }
        }
        Pair p;
        try {
            p = s.catalog().add_pair(ps, uuid);
        } catch (const Error&) {
            if (ps.source_marker && !join) {
                try {
                    remove_marker(ps.source, uuid, Role::source); // a failed pair add leaves nothing
                } catch (const Error& e) {
                    warn(e.what()); // the first error is the one to report
                }
            }
            throw;
        }
        if (ps.source_marker) {
            save_keys_at(s.layout(), {ps.source}); // an encrypted drive: cron needs no passphrase
        }
        j.field("id", p.uuid);
        j.field("joined", join.has_value());
        j.key("drives");
        j.begin_array();
        std::string names;
        if (join) {
            for (const auto& [id, label] : join->drives) {
                j.begin_object();
                j.field("id", id);
                j.field("label", label);
                j.end_object();
                names += fmt::format("{}{}{}", names.empty() ? "" : ", ", id,
                                     label.empty() ? "" : " (" + label + ")");
            }
        }
        j.end_array();
        say_warnings(warnings, j);
        j.end_object();
        if (join) {
            say(g, fmt::format("joined pair {} ({} -> {}), also served by drive{} {}: nothing another "
                               "drive carries or delivered is carried again (docs/rotation.md)",
                               p.name, escape_bytes(p.source), escape_bytes(p.dest),
                               join->drives.size() == 1 ? "" : "s", names));
        } else {
            say(g, fmt::format("added pair {}: {} -> {}{}", p.name, escape_bytes(p.source),
                               escape_bytes(p.dest),
                               p.source_marker ? "" : " (no source marker: an empty source is refused)"));
        }
    }
    if (g.json) {
        print_json(j);
    }
    return ExitCode::ok;
}

ExitCode run_set(const Globals& g, const SetCli& o) {
    Session s(g, "pair set", Session::Lock::exclusive);
    Pair p = s.select_pairs({o.name}).front();
    Pair changed = p;
    apply(changed, o);
    if (o.shared()) {
        // The other drives take the pair's options where they were set later
        // (docs/rotation.md): with the stored stamp kept, a change made here
        // never reached them.
        changed.options_ns = options_stamp_after(p.options_ns);
    }
    std::vector<std::string> warnings;
    if (auto w = reserve_warning(s.layout(), changed)) {
        warnings.push_back(*w);
    }
    if (!o.dry_run) {
        s.catalog().set_pair_settings(p.id, changed);
    }
    JsonWriter j;
    j.begin_object();
    j.field("dry_run", o.dry_run);
    j.field("name", p.name);
    say_warnings(warnings, j);
    j.end_object();
    if (g.json) {
        print_json(j);
    } else {
        say(g, fmt::format("{}pair {}: reserve {}, on delete {}, retention {} days, mass-change "
                           "brake above {}% and {}, {}{}",
                           o.dry_run ? "dry run: would set " : "set ", p.name,
                           changed.reserve.to_string(),
                           changed.on_delete == OnDelete::trash ? "trash" : "keep",
                           changed.retention_days, changed.mass_change_limit,
                           plural(changed.mass_change_min, "file"),
                           plural(static_cast<int64_t>(changed.excludes.size()), "exclude"),
                           o.dry_run ? " (nothing was changed)" : ""));
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
    j.field("mass_change_min", p.mass_change_min);
    j.field("source_marker", p.source_marker);
    j.field("dest_claimed", p.dest_claimed_ns.has_value());
    j.end_object();
}

ExitCode run_list(const Globals& g) {
    Session s(g, "pair list", Session::Lock::shared);
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
                                       "days, mass-change brake above {}% and {}{}{}",
                                       p.name, escape_bytes(p.source), escape_bytes(p.dest), reserve,
                                       p.on_delete == OnDelete::trash ? "trash" : "keep",
                                       p.retention_days, p.mass_change_limit,
                                       plural(p.mass_change_min, "file"),
                                       p.source_marker ? "" : ", no source marker",
                                       p.dest_claimed_ns ? ", destination claimed" : "");
        for (const auto& e : p.excludes) {
            text += "\n  exclude " + e;
        }
        say(g, text);
    }
    return ExitCode::ok;
}

struct RemoveCli {
    std::string name;
    bool dry_run = false;
};

ExitCode run_remove(const Globals& g, const RemoveCli& o) {
    Session s(g, "pair remove", Session::Lock::exclusive);
    Pair p = s.select_pairs({o.name}).front();
    // Everything of the pair's that the cargo holds and the destination lacks,
    // failed files included: removing the pair would strand it.
    Counts stranded = StatusStore(s.catalog().db()).undelivered_on_cargo(p.id);
    if (stranded.files > 0 && !g.yes) {
        throw Refusal(fmt::format("pair '{}' still has {} ({}) on the cargo awaiting delivery; "
                                  "deliver them first, or remove anyway with --yes",
                                  p.name, plural(stranded.files, "file"),
                                  format_size(static_cast<uint64_t>(stranded.bytes))));
    }
    // The other drives serving the pair: told at the endpoints that this drive
    // left it, or they would wait for what it carried (docs/rotation.md).
    std::vector<std::string> serving, told;
    bool seen = false, failed = false; // an endpoint was visible here; a mark not written
    for (const auto& d : known_drives(s.catalog().db(), p.id)) {
        if (!d.lost_ns && d.drive_id != s.catalog().drive_id()) {
            serving.push_back(d.drive_id);
        }
    }
    if (!o.dry_run) {
        std::string drive_id = s.catalog().drive_id();
        // First, while the pair is still in the catalog (a run that dies before
        // removing it keeps the pair, and its next copy at the root takes the
        // mark back): at each visible endpoint, whether another drive still
        // serves the pair there (known to this drive or with its copy there,
        // and no mark of its own leaving), and if so this drive's mark.
        struct Endpoint {
            std::string root;
            Role role;
            bool served = false;
        };
        std::vector<Endpoint> ends = {{p.source, Role::source}, {p.dest, Role::dest}};
        for (auto& e : ends) {
            try {
                if (!has_marker(e.root, p.uuid, e.role)) {
                    continue; // not visible here
                }
                seen = true;
                auto left = drives_left_pair(e.root, p.uuid);
                auto stays = [&](const std::string& id) {
                    return std::find(left.begin(), left.end(), id) == left.end();
                };
                auto there = drives_with_pair_at(e.root, p.uuid, drive_id, saved_keys_for_copy);
                e.served = std::any_of(serving.begin(), serving.end(), stays) ||
                           std::any_of(there.begin(), there.end(), stays);
                if (e.served) {
                    write_left_pair(e.root, p.uuid, drive_id);
                    told.push_back(e.root);
                }
            } catch (const SystemError& err) {
                e.served = failed = true; // in doubt: its markers stay
                warn(fmt::format("cannot tell the other drives at '{}' that this drive leaves the "
                                 "pair: {}",
                                 escape_bytes(e.root), err.what()));
            }
        }
        s.catalog().remove_pair(p.id);
        // What the endpoints keep of this drive (markers, catalog copies,
        // generation) goes too, unless another pair of the drive uses that root.
        auto others = s.catalog().pairs();
        for (const auto& [root, role, served] : ends) {
            try {
                // A marker other drives of the pair use, or will, stays (SPEC §9);
                // where none does, it goes with the marks of those that left.
                if (!served) {
                    for (const auto& id : drives_left_pair(root, p.uuid)) {
                        remove_left_pair(root, p.uuid, id);
                    }
                    remove_marker(root, p.uuid, role);
                    // and the pair's order record there (docs/rotation.md)
                    std::string order = role == Role::source ? order_stamp_path(root, p.uuid)
                                                             : DestOrder::path(root, p.uuid);
                    for (const auto& path : {order, order + ".lock", order + "-journal"}) {
                        if (role == Role::source && path != order) {
                            continue;
                        }
                        remove_endpoint_file(path);
                    }
                }
                bool shared = false;
                for (const auto& other : others) {
                    shared = shared || other.source == root || other.dest == root;
                }
                if (!shared) {
                    std::string copy = catalog_backup_path(root, drive_id);
                    for (const auto& path : {copy, replica_state_path(copy), copy + ".patch",
                                             seen_generation_path(root, drive_id)}) {
                        remove_endpoint_file(path);
                    }
                }
            } catch (const SystemError& e) {
                warn(e.what()); // an endpoint not visible here keeps them, harmless
            }
        }
    }
    if (g.json) {
        JsonWriter j;
        j.begin_object();
        j.field("dry_run", o.dry_run);
        j.field("removed", p.name);
        j.key("told_at");
        j.begin_array();
        for (const auto& root : told) {
            j.value(root);
        }
        j.end_array();
        j.end_object();
        print_json(j);
    } else if (o.dry_run) {
        say(g, fmt::format("dry run: would remove pair {} (nothing was changed)", p.name));
    } else if (serving.empty() || (told.empty() && seen && !failed)) {
        say(g, fmt::format("removed pair {}", p.name)); // (no drive serves it any more there)
    } else if (!told.empty()) {
        std::string where = escape_bytes(told.front());
        if (told.size() > 1) {
            where += " or " + escape_bytes(told.back());
        }
        say(g, fmt::format("removed pair {}; the other drives serving it ({}) learn at their next "
                           "visit of {} that this drive left it, and carry again what it carried",
                           p.name, fmt::join(serving, ", "), where));
    } else {
        say(g, fmt::format("removed pair {}; the other drives serving it ({}) were not told here "
                           "(neither endpoint visible): they wait for what this drive carried "
                           "until they are told, by 'barge drive lost {}' on each of them (which "
                           "counts this drive lost for every pair it shares with them)",
                           p.name, fmt::join(serving, ", "), s.catalog().drive_id()));
    }
    return ExitCode::ok;
}

// The options `pair add` and `pair set` share.
void add_options(CLI::App* sub, OptionsCli& o, bool for_set) {
    sub->add_option("--exclude", o.excludes,
                    for_set ? "add a gitignore-style pattern to leave out (repeatable)"
                            : "gitignore-style pattern to leave out (repeatable): '*.tmp', "
                              "'cache/', '**/node_modules'")
        ->option_text("GLOB");
    if (for_set) {
        sub->add_flag("--clear-excludes", o.clear_excludes,
                      "forget the pair's exclude patterns (before adding --exclude ones)");
    }
    sub->add_option("--reserve", o.reserve,
                    "free space always left on the drive and at the destination (default 1GiB; "
                    "e.g. 500M, 2GiB, 5%)")
        ->option_text("SIZE");
    sub->add_option("--on-delete", o.on_delete,
                    "keep: leave files deleted at the source at the destination; trash: move "
                    "them to DEST/.barge/trash (default keep)")
        ->option_text("keep|trash");
    sub->add_option("--retention", o.retention,
                    "days to keep trash and old versions at the destination (default 90)")
        ->option_text("DAYS");
    sub->add_option("--mass-change-limit", o.mass_change_limit,
                    "refuse a scan that finds more than this share of known files deleted or "
                    "modified (default 25)")
        ->option_text("PCT");
    sub->add_option("--mass-change-min", o.mass_change_min,
                    "... and at least this many files (default 100): a small tree is never "
                    "braked by an ordinary edit")
        ->option_text("N");
    sub->add_flag("-n,--dry-run", o.dry_run, "check and print what would change; change nothing");
}

} // namespace

void add_pair(CLI::App& app, Globals& g, Action& action) {
    auto* pair = app.add_subcommand("pair", "add, list, change and remove pairs (source -> destination)");
    pair->require_subcommand(1);

    auto o = std::make_shared<AddCli>();
    auto* add = pair->add_subcommand("add", "add a pair: SOURCE at home mirrored to DEST offsite");
    add->add_option("NAME", o->name, "a short name for the pair")->required();
    add->add_option("SOURCE", o->source, "the source directory (at home)")->required();
    add->add_option("DEST", o->dest, "the destination directory (offsite; may be the same path)")
        ->required();
    add_options(add, *o, false);
    add->add_flag("--no-source-marker", o->no_source_marker,
                  "do not write SOURCE/.barge (read-only source; an empty source is refused)");
    add->add_flag("--separate", o->separate,
                  "make an independent pair even where another drive already serves SOURCE -> "
                  "DEST (by default this drive joins that pair: docs/rotation.md)");
    add->footer("Example: barge pair add photos /srv/photos /mnt/backup/photos --exclude '*.tmp'");
    add->callback([&g, &action, o] { action = [&g, o] { return run_add(g, *o); }; });

    auto so = std::make_shared<SetCli>();
    auto* set = pair->add_subcommand("set", "change a pair's options (those of 'pair add')");
    set->add_option("NAME", so->name, "the pair")->required();
    add_options(set, *so, true);
    set->footer("Example: barge pair set photos --reserve 5% --mass-change-min 50");
    set->callback([&g, &action, so] { action = [&g, so] { return run_set(g, *so); }; });

    auto* list = pair->add_subcommand("list", "list the pairs on this drive");
    list->footer("Example: barge pair list --json");
    list->callback([&g, &action] { action = [&g] { return run_list(g); }; });

    auto ro = std::make_shared<RemoveCli>();
    auto* rm = pair->add_subcommand("remove", "remove a pair (refused while it has undelivered "
                                              "cargo, unless --yes)");
    rm->add_option("NAME", ro->name, "the pair")->required();
    rm->add_flag("-n,--dry-run", ro->dry_run, "check and print what would change; change nothing");
    rm->footer("Example: barge pair remove photos");
    rm->callback([&g, &action, ro] { action = [&g, ro] { return run_remove(g, *ro); }; });
}

} // namespace barge::cli
