#include "barge/cli/commands.hpp"
#include "barge/catalog/catalog.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/drive.hpp"
#include "barge/fs/lock.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/path.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge::cli {

namespace {

struct RecoverOptions {
    std::vector<std::string> places;
    std::string drive_id; // --drive-id: the id or a unique prefix
    bool raise_generation = false;
    bool dry_run = false;
};

struct Candidate {
    std::string path;
    std::string drive_id;
    std::string label;
    int64_t generation = 0;
    EndpointKeys keys; // an encrypted drive's copy: its keys (null otherwise)
};

bool is_regular(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The catalog copies a place holds: the file itself, or catalog-*.db in the
// directory or in its .barge/.
std::vector<std::string> copies_at(const std::string& place) {
    if (is_regular(place)) {
        return {place};
    }
    std::vector<std::string> out;
    for (const std::string& dir : {place, barge_dir(place)}) {
        Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) {
            continue;
        }
        for (const auto& name : read_dir_names(fd.get(), dir)) {
            if (starts_with(name, "catalog-") && name.size() > 11 && name.ends_with(".db")) {
                out.push_back(dir + "/" + name);
            }
        }
    }
    return out;
}

// Opens a copy (a full integrity check and the schema check) to read its identity.
std::optional<Candidate> inspect(const std::string& path, const Globals& g) {
    try {
        settle_replica(path); // an update cut short by a crash is finished first
        EndpointKeys keys;
        if (is_sealed_catalog(path)) {
            keys = keys_for_copy(path, g);
        }
        Catalog c = Catalog::open(path, Catalog::Check::full, keys.keys);
        return Candidate{path, c.drive_id(), c.meta("label").value_or(""), c.generation(), keys};
    } catch (const Error& e) {
        spdlog::warn("'{}' cannot be used: {}", escape_bytes(path), e.what());
        return std::nullopt;
    }
}

// The drive the directory was: what its key file names (it survives a lost
// catalog), else what its plain catalog names; none when neither can be read.
// Read only, before the drive lock and in a dry run: the catalog is read as it
// stands (immutable: no journal rolled back, nothing migrated or rewritten).
std::optional<std::string> own_drive_id(const std::string& dir) {
    DriveLayout here{dir, nullptr};
    try {
        if (is_regular(here.key_file())) {
            return read_wrapped_key(here.key_file()).drive_id;
        }
    } catch (const Error&) {
        // damaged: the catalog may tell
    }
    try {
        if (is_regular(here.catalog())) {
            Database db(here.catalog(), Database::Create::no, nullptr, "mode=ro&immutable=1");
            auto st = db.prepare("SELECT value FROM meta WHERE key = 'drive_id'");
            if (st.step()) {
                return st.column_text(0);
            }
        }
    } catch (const Error&) {
        // damaged or sealed: the copies tell, or --drive-id
    }
    return std::nullopt;
}

// The newest copy of one drive's catalog. A place holds the copies of every
// drive serving its pairs: the newest of them all was once installed, another
// drive's catalog on this one (its id gone, its cargo left to a drive that no
// longer existed, the real other drive then refused as stale). The drive is
// --drive-id, else the one the directory names, else the only one found.
const Candidate& newest_of(const std::vector<Candidate>& found, const std::string& id) {
    const Candidate* newest = nullptr;
    for (const auto& c : found) {
        if (c.drive_id == id && (!newest || c.generation > newest->generation)) {
            newest = &c;
        }
    }
    return *newest; // id is one of found's
}

Candidate choose_copy(const std::vector<Candidate>& found, const RecoverOptions& o,
                      const std::string& dir) {
    std::vector<std::string> ids;
    for (const auto& c : found) {
        if (std::find(ids.begin(), ids.end(), c.drive_id) == ids.end()) {
            ids.push_back(c.drive_id);
        }
    }
    auto describe = [&] {
        std::vector<std::string> out;
        for (const auto& id : ids) {
            const Candidate& newest = newest_of(found, id);
            out.push_back(
                fmt::format("{} '{}' (generation {})", id, newest.label, newest.generation));
        }
        return fmt::format("{}", fmt::join(out, ", "));
    };
    std::string id;
    if (!o.drive_id.empty()) {
        std::vector<std::string> matches;
        for (const auto& i : ids) {
            if (starts_with(i, o.drive_id)) {
                matches.push_back(i);
            }
        }
        if (matches.size() != 1) {
            throw Refusal(fmt::format("--drive-id '{}' names {} of the drives whose copies are "
                                      "there: {}",
                                      o.drive_id, matches.empty() ? "none" : "several",
                                      describe()));
        }
        id = matches.front();
    } else if (auto own = own_drive_id(dir)) {
        if (std::find(ids.begin(), ids.end(), *own) == ids.end()) {
            throw Refusal(fmt::format(
                "no copy of the catalog of drive {} (this drive, as its {} "
                "says) is there; the copies found are of: {} (--drive-id "
                "ID installs one of them instead)",
                *own, is_regular(DriveLayout{dir, nullptr}.key_file()) ? "key file" : "catalog",
                describe()));
        }
        id = *own;
    } else if (ids.size() > 1) {
        throw Refusal(fmt::format("the copies there are of {} drives: {}. Say which this drive was "
                                  "with --drive-id ID (a unique prefix will do; 'barge drive "
                                  "list' on another drive of the pair shows their labels)",
                                  ids.size(), describe()));
    } else {
        id = ids.front();
    }
    return newest_of(found, id);
}

// The newest generation of the drive the places saw (ROOT/.barge/drive-<id>.generation),
// and where. A place is a root, its .barge directory, or a copy in it.
std::pair<int64_t, std::string> seen_at_places(const std::vector<std::string>& places,
                                               const std::string& drive_id) {
    std::pair<int64_t, std::string> out{0, ""};
    for (const auto& place : places) {
        std::string root = absolute_path(place);
        if (is_regular(root)) {
            root = parent_path(root);
        }
        if (root.ends_with("/.barge")) {
            root = parent_path(root);
        }
        auto seen = read_seen_generation(root, drive_id);
        if (seen && *seen > out.first) {
            out = {*seen, root};
        }
    }
    return out;
}

// A place saw a later generation than any copy holds: a run that died after it
// recorded its generation there and before it left its copy. Runs there refuse
// the catalog as stale until it is raised, which only --raise-generation does.
// intact: the drive's own catalog, which may also be a restored image.
std::string dead_run_words(int64_t generation, const std::pair<int64_t, std::string>& seen,
                           bool intact) {
    return fmt::format(
        "'{}' saw generation {}, later than {} ({}): a run that died before it left its copy, "
        "or a newer copy elsewhere (recover from that place then){}. With none, 'barge recover "
        "--raise-generation' takes this catalog as the drive's newest: what that run did is "
        "found again (pieces it wrote are carried again, files it delivered are found in place)",
        escape_bytes(seen.second), seen.first,
        intact ? "this catalog and any copy there" : "any copy there", generation,
        intact ? ", or this catalog is a restored image of an older one (acting on it could "
                 "deliver old versions or trash newer files)"
               : "");
}

// The fields every recover's JSON begins with; from: none when nothing was installed.
void begin_json(JsonWriter& j, bool dry_run, const std::string& dir, const std::string* from,
                const std::string& drive_id, int64_t generation) {
    j.begin_object();
    j.field("dry_run", dry_run);
    j.field("drive", dir);
    j.key("recovered_from");
    if (from) {
        j.value(*from);
    } else {
        j.null();
    }
    j.field("drive_id", drive_id);
    j.field("generation", generation);
}

ExitCode run_recover(const Globals& g, const RecoverOptions& o) {
    std::string dir = named_drive_or_cwd(g.drive);
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("'{}' is not a directory: mount the drive and make the "
                                  "directory for barge on it first",
                                  escape_bytes(dir)));
    }
    if (o.places.empty()) {
        throw Refusal("name where to look for catalog copies: the roots of this side's pairs "
                      "(e.g. 'barge recover /srv/photos'), or a copy itself");
    }
    std::vector<Candidate> found;
    for (const auto& place : o.places) {
        for (const auto& path : copies_at(absolute_path(place))) {
            if (auto c = inspect(path, g)) {
                found.push_back(std::move(*c));
            }
        }
    }
    if (found.empty()) {
        throw Refusal("no usable catalog copy (catalog-<drive id>.db) found there");
    }
    std::optional<Candidate> best = choose_copy(found, o, dir);
    if (o.dry_run) {
        auto seen = seen_at_places(o.places, best->drive_id);
        if (seen.first > best->generation) {
            warn(dead_run_words(best->generation, seen, false));
        }
        if (g.json) {
            JsonWriter j;
            begin_json(j, true, dir, &best->path, best->drive_id, best->generation);
            j.end_object();
            print_json(j);
        } else {
            say(g, fmt::format("dry run: would install the catalog of drive {} (generation {}) "
                               "from {} as {}/barge.db; nothing was changed",
                               best->drive_id, best->generation, escape_bytes(best->path),
                               escape_bytes(dir)));
        }
        return ExitCode::ok;
    }
    DriveLock lock(dir, DriveLock::Mode::exclusive, "recover");
    // A drive that is encrypted (its barge.key is there): its own catalog is opened
    // with its key, and a plain copy (made before 'barge encrypt') is not put beside
    // that key file.
    DriveLayout here{dir, nullptr};
    struct stat key_st{};
    if (::lstat(here.key_file().c_str(), &key_st) == 0) {
        if (!best->keys.keys) {
            throw Refusal(fmt::format(
                "drive '{}' is encrypted (it has {}), but the newest copy, {}, is plain (made "
                "before 'barge encrypt'): move the key file aside to recover the plain catalog, "
                "then run 'barge encrypt' again",
                escape_bytes(dir), escape_bytes(here.key_file()), escape_bytes(best->path)));
        }
        if (read_wrapped_key(here.key_file()).drive_id == best->drive_id) {
            here.keys = best->keys.keys;
        } else {
            try {
                unlock(here, g); // another drive's key file: its catalog opens with it, or counts as damaged
            } catch (const Error& e) {
                spdlog::warn("the catalog already on the drive cannot be opened: {}", e.what());
            }
        }
    }
    DriveLayout layout{dir, best->keys.keys};
    std::string db = layout.catalog();
    std::string set_aside;
    bool replacing = is_regular(db);
    if (replacing) {
        std::optional<int64_t> current; // unset: damaged, or another drive's
        bool other_drive = false;
        try {
            Catalog c = Catalog::open(db, Catalog::Check::full, here.keys);
            other_drive = c.drive_id() != best->drive_id;
            if (!other_drive) {
                current = c.generation();
            }
        } catch (const Error&) {
            // damaged: set aside below, never deleted
        }
        if (current && *current >= best->generation) {
            auto seen = seen_at_places(o.places, best->drive_id);
            if (seen.first <= *current) {
                throw Refusal(fmt::format("the drive's catalog is intact and as new as the newest "
                                          "copy (generation {} >= {}): nothing to recover",
                                          *current, best->generation));
            }
            if (!o.raise_generation) {
                throw Refusal(fmt::format("the drive's catalog is intact and as new as the newest "
                                          "copy (generation {} >= {}), but {}",
                                          *current, best->generation,
                                          dead_run_words(*current, seen, true)));
            }
            PageMap::forget(db); // written without its page map
            Catalog c = Catalog::open(db, Catalog::Check::full, here.keys);
            c.set_meta("generation", std::to_string(seen.first));
            JsonWriter j;
            begin_json(j, false, dir, nullptr, best->drive_id, seen.first);
            j.field("raised_from", *current);
            j.end_object();
            if (g.json) {
                print_json(j);
            } else {
                say(g, fmt::format("the drive's catalog (generation {}) is kept as the newest: its "
                                   "generation is raised to {}, what '{}' saw",
                                   *current, seen.first, escape_bytes(seen.second)));
            }
            return ExitCode::ok;
        }
        if (other_drive && !g.yes) {
            throw Refusal(fmt::format("'{}' is the catalog of another drive; pass --yes to replace "
                                      "it (it is kept beside)",
                                      escape_bytes(db)));
        }
    }
    // The copy is made beside first, every page checked as it is read: a page the
    // open's check does not read (a free one) once failed after the drive's own
    // catalog was set aside, and left the drive with none.
    PendingFile staged(db + ".recover.tmp");
    {
        Catalog src = Catalog::open(best->path, Catalog::Check::pages, layout.keys);
        src.backup_to(staged.path());
    }
    if (replacing) {
        // Never deleted: kept beside for inspection.
        set_aside = db + ".replaced-" + utc_stamp(now_ns());
        if (::rename(db.c_str(), set_aside.c_str()) != 0) {
            throw_errno("rename", db);
        }
        ::rename((db + "-journal").c_str(), (set_aside + "-journal").c_str());
    }
    if (layout.keys) {
        // An encrypted drive: its key file comes back with its catalog (the copy
        // kept at the endpoint), unless the drive still has its own.
        std::optional<WrappedKey> own;
        try {
            own = read_wrapped_key(layout.key_file());
        } catch (const Error&) {
        }
        if (!own || own->drive_id != best->drive_id) {
            if (own) {
                rename_into_place(layout.key_file(), layout.key_file() + ".replaced-" + utc_stamp(now_ns()));
            }
            write_file_atomic(layout.key_file(), best->keys.wrapped_text, 0644);
        }
    }
    PageMap::forget(db); // the map described the catalog being replaced
    staged.keep();
    rename_into_place(staged.path(), db);
    ensure_dir(layout.cargo());
    ensure_dir(layout.logs());
    fsync_dir(dir);
    Catalog cat = Catalog::open(db, Catalog::Check::pages, layout.keys);
    auto seen = seen_at_places(o.places, best->drive_id);
    int64_t generation = best->generation;
    if (seen.first > generation) {
        if (o.raise_generation) {
            generation = seen.first;
            cat.set_meta("generation", std::to_string(generation));
        } else {
            warn(dead_run_words(generation, seen, false));
        }
    }
    // The copy describes another drive's cargo: what is not here is queued again.
    int64_t requeued = check_cargo(cat, layout);
    if (g.json) {
        JsonWriter j;
        begin_json(j, false, dir, &best->path, best->drive_id, generation);
        // What a place saw later than the copy, when it was not raised to it:
        // runs there refuse the catalog as stale.
        j.key("seen_later");
        if (seen.first > generation) {
            j.begin_object();
            j.field("generation", seen.first);
            j.field("at", seen.second);
            j.end_object();
        } else {
            j.null();
        }
        j.field("requeued_pieces", requeued);
        j.key("set_aside");
        if (set_aside.empty()) {
            j.null();
        } else {
            j.value(set_aside);
        }
        j.end_object();
        print_json(j);
    } else {
        say(g, fmt::format("recovered the catalog of drive {} (generation {}) from {}{}; {} "
                           "it records {} not on this drive and will be carried again",
                           best->drive_id, generation, escape_bytes(best->path),
                           set_aside.empty() ? std::string()
                                             : fmt::format(" (the old one is kept as {})",
                                                           escape_bytes(set_aside)),
                           plural(requeued, "piece"), requeued == 1 ? "is" : "are"));
    }
    spdlog::info("recovered the catalog from {} (generation {})", best->path, best->generation);
    return ExitCode::ok;
}

} // namespace

void add_recover(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<RecoverOptions>();
    auto* sub = app.add_subcommand(
        "recover", "rebuild a lost or corrupt drive catalog from the newest copy barge left at "
                   "this side's pair roots (ROOT/.barge/catalog-<drive id>.db)");
    sub->add_option("PLACE", o->places,
                    "pair roots (or .barge directories, or copies) to look in")
        ->required();
    sub->add_option("--drive-id", o->drive_id,
                    "the drive whose catalog to install (its id or a unique prefix), where the "
                    "places hold the copies of several drives");
    sub->add_flag("--raise-generation", o->raise_generation,
                  "where a place saw a later generation than any copy holds (a run that died "
                  "before it left its copy), take the catalog as the drive's newest anyway");
    sub->add_flag("-n,--dry-run", o->dry_run, "say which copy it would install; change nothing");
    sub->footer("Example: barge -d /media/newdrive/barge recover /srv/photos /srv/video\n"
                "(a new drive: mkdir /media/newdrive/barge first; then 'barge load' carries what "
                "the lost one held)");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_recover(g, *o); }; });
}

} // namespace barge::cli
