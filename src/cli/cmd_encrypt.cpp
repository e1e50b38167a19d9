#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/fs/dir.hpp"
#include "barge/fs/lock.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/fd.hpp"
#include "barge/util/json.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace barge::cli {

namespace {

struct EncryptOptions {
    KdfOptions kdf;
};

// Removes what a plain drive kept in the clear besides its catalog: the drive log,
// the backups taken before schema migrations, catalogs set aside by recover, and
// the temporary files of an interrupted conversion. Returns how many files. One
// that cannot be removed is an error naming it (it was skipped in silence, and
// the drive said encrypted with its plain log on it): a run again finishes.
int remove_plain_leftovers(const DriveLayout& layout) {
    int removed = 0;
    auto remove_matching = [&](const std::string& dir, auto&& match) {
        Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!fd) {
            return;
        }
        for (const auto& name : read_dir_names(fd.get(), dir)) {
            if (!match(name)) {
                continue;
            }
            if (::unlinkat(fd.get(), name.c_str(), 0) == 0) {
                ++removed;
            } else if (errno != ENOENT) {
                throw Error(fmt::format("cannot remove '{}', which the drive kept in the clear: "
                                        "{}; run 'barge encrypt' again once it can be removed",
                                        escape_bytes(dir + "/" + name), std::strerror(errno)));
            }
        }
        fsync_dir(dir);
    };
    remove_matching(layout.logs(), [](const std::string& n) {
        return starts_with(n, "barge.") && !n.ends_with(".sealed"); // barge.log, barge.N.log
    });
    remove_matching(layout.root, [](const std::string& n) {
        return (starts_with(n, "barge.db.v") && n.find(".bak") != std::string::npos) ||
               starts_with(n, "barge.db.replaced-") || starts_with(n, "barge.db.protect.tmp") ||
               starts_with(n, "barge.db.encrypt.tmp") || starts_with(n, "barge.db.recover.tmp");
    });
    return removed;
}

ExitCode report(const Globals& g, const DriveLayout& layout, const std::string& id, int removed,
                bool already) {
    JsonWriter j;
    j.begin_object();
    j.field("drive", layout.root);
    j.field("drive_id", id);
    j.field("encrypted", true);
    j.field("already", already);
    j.field("removed_plain_files", static_cast<int64_t>(removed));
    j.end_object();
    if (g.json) {
        print_json(j);
    } else if (already) {
        say(g, fmt::format("drive {} is already encrypted; {} plain file{} left by an interrupted "
                           "conversion removed",
                           escape_bytes(layout.root), removed, removed == 1 ? "" : "s"));
    } else {
        say(g, fmt::format("encrypted drive {}: its catalog is rewritten sealed, {} plain log and "
                           "backup file{} removed. What the drive held in the clear before may "
                           "remain in its file system's free blocks (docs/encryption.md); the "
                           "catalog copies at the endpoints are replaced by sealed ones on the "
                           "next run that sees them",
                           escape_bytes(layout.root), removed, removed == 1 ? "" : "s"));
    }
    return ExitCode::ok;
}

ExitCode run_encrypt(const Globals& g, const EncryptOptions& o) {
    DriveLayout layout = find_drive(g.drive);
    DriveLock lock(layout.root, DriveLock::Mode::exclusive, "encrypt");
    struct stat st{};
    bool resume = ::lstat(layout.key_file().c_str(), &st) == 0;
    if (resume && is_sealed_catalog(layout.catalog())) {
        // Already encrypted: only what an interrupted conversion may have left in
        // the clear is removed (again).
        unlock(layout, g);
        Catalog cat = Catalog::open(layout.catalog(), Catalog::Check::pages, layout.keys);
        check_cargo(cat, layout);
        int removed = remove_plain_leftovers(layout);
        return report(g, layout, cat.drive_id(), removed, true);
    }
    KdfParams kdf = o.kdf.over();
    Catalog cat = Catalog::open(layout.catalog(), Catalog::Check::full);
    std::string id = cat.drive_id();
    size_t on_cargo = 0;
    TransitStore(cat.db()).each_piece_on_cargo(4096, [&](std::vector<PieceRow>& page) {
        on_cargo += page.size();
        return true;
    });
    if (on_cargo > 0) {
        throw Refusal(fmt::format(
            "{} {} on the cargo of drive '{}', in the clear: deliver them ('barge unload') "
            "and remove them ('barge dump-cargo') first; barge encrypt converts the catalog, not "
            "pieces",
            plural(static_cast<int64_t>(on_cargo), "piece"), on_cargo == 1 ? "is" : "are",
            escape_bytes(layout.root)));
    }
    SecretKey key = SecretKey::zeroed();
    if (resume) {
        // An earlier run wrote the key file and stopped: the same key, its passphrase.
        WrappedKey wrapped = read_wrapped_key(layout.key_file());
        if (wrapped.drive_id != id) {
            throw Refusal(fmt::format("'{}' is the key of drive {}, not of this drive ({})",
                                      escape_bytes(layout.key_file()), wrapped.drive_id, id));
        }
        auto pass = get_passphrase(g.passphrase_file, "passphrase of the drive", false);
        if (!pass) {
            throw Refusal(fmt::format("the passphrase of drive '{}' is needed to finish its "
                                      "conversion: --passphrase-file FILE, "
                                      "$BARGE_PASSPHRASE_FILE, or a terminal to ask on",
                                      escape_bytes(layout.root)));
        }
        key = unwrap_key(wrapped, *pass);
        sodium_memzero(pass->data(), pass->size());
    } else {
        auto pass = get_passphrase(g.passphrase_file, "passphrase for the drive", true);
        if (!pass) {
            throw Refusal(fmt::format("encrypting drive '{}' needs a passphrase: "
                                      "--passphrase-file FILE, $BARGE_PASSPHRASE_FILE, or a "
                                      "terminal to ask on (twice)",
                                      escape_bytes(layout.root)));
        }
        key = SecretKey::random();
        WrappedKey wrapped = wrap_key(key, *pass, id, kdf);
        sodium_memzero(pass->data(), pass->size());
        // The key first: a crash before the catalog is replaced leaves the key file
        // beside the plain catalog, which barge refuses until this runs again.
        write_file_atomic(layout.key_file(), format_wrapped_key(wrapped), 0644);
    }
    layout.keys = DriveKeys::derive(std::move(key), id);
    cat = Catalog::encrypt(std::move(cat), layout.catalog(), layout.keys);
    check_cargo(cat, layout); // files left under cargo/ by the plain drive go
    int removed = remove_plain_leftovers(layout);
    return report(g, layout, id, removed, false);
}

} // namespace

void add_encrypt(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<EncryptOptions>();
    auto* sub = app.add_subcommand(
        "encrypt", "turn a plain drive into an encrypted one (its cargo must be empty)");
    add_kdf_options(sub, o->kdf);
    sub->footer("Example: barge unload && barge dump-cargo --yes && barge encrypt");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_encrypt(g, *o); }; });
}

} // namespace barge::cli
