#include "barge/catalog/catalog.hpp"
#include "barge/cli/commands.hpp"
#include "barge/cli/install_binary.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/crypto/drive_keys.hpp"
#include "barge/fs/space.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/path.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fmt/format.h>
#include <optional>
#include <sodium.h>
#include <string>
#include <sys/stat.h>
#include <vector>

namespace barge::cli {

namespace {

struct InitOptions {
    std::string dir = ".";
    std::optional<std::string> piece_size;
    bool install_binary = false;
    std::optional<std::string> from;
    bool dry_run = false;
    bool encrypt = false;
    std::optional<std::string> label;
    KdfOptions kdf;
};

// Undoes a half-made drive: a failed init leaves nothing behind (SPEC §5), and
// takes nothing that was there before it: a directory made a drive may hold the
// user's own bin/, logs/ or cargo/ (the root of a disk in use), which a failed
// init once removed whole.
class InitUndo {
public:
    InitUndo(std::string dir, bool created_dir) : m_dir(std::move(dir)), m_created(created_dir) {
        for (const char* part : parts) {
            struct stat st{};
            if (::lstat((m_dir + "/" + part).c_str(), &st) != 0 && errno == ENOENT) {
                m_made.emplace_back(part);
            }
        }
    }
    ~InitUndo() {
        if (m_done) {
            return;
        }
        std::error_code ec;
        for (const auto& part : m_made) {
            std::filesystem::remove_all(m_dir + "/" + part, ec);
        }
        if (m_created) {
            std::filesystem::remove(m_dir, ec); // only when empty again
        }
    }
    InitUndo(const InitUndo&) = delete;
    InitUndo& operator=(const InitUndo&) = delete;
    void done() { m_done = true; }
    // The drive lock was not had: what appeared since the look may be another
    // init's, which holds it. Only the directory goes, if this init made it
    // and it is empty again.
    void lock_failed() { m_made.clear(); }

private:
    // (bin/barge too: a bin/ of the user's keeps all but what init put in it)
    static constexpr const char* parts[] = {"barge.db", "barge.db-journal", "barge.key",
                                            "cargo",    "logs",             "bin",
                                            "bin/barge", "barge.lock"};
    std::string m_dir;
    bool m_created;
    std::vector<std::string> m_made; // the parts not there before: init's to undo
    bool m_done = false;
};

// SPEC §3: 1 GiB (below FAT32's 4 GiB file limit), or 1/16 of the drive when smaller.
uint64_t default_piece_size(uint64_t capacity) {
    constexpr uint64_t gib = 1024ull * 1024 * 1024;
    return std::max<uint64_t>(std::min(gib, capacity / 16), 64 * 1024);
}

ExitCode run_init(const Globals& g, const InitOptions& o) {
    std::string dir = absolute_path(o.dir);
    // Everything is checked before anything is made: a refused init leaves nothing.
    std::string parent = parent_path(dir);
    struct stat st{};
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        // Like mkdir without -p: a missing parent usually means a drive not mounted.
        throw Refusal(fmt::format("cannot make '{}' a drive: its parent '{}' is not a directory "
                                  "(is the drive mounted?)",
                                  escape_bytes(dir), escape_bytes(parent)));
    }
    bool exists = ::stat(dir.c_str(), &st) == 0;
    if (exists && !S_ISDIR(st.st_mode)) {
        throw Refusal(fmt::format("'{}' exists and is not a directory", escape_bytes(dir)));
    }
    DriveLayout layout{dir, nullptr};
    if (::lstat(layout.catalog().c_str(), &st) == 0) {
        throw Refusal(fmt::format("'{}' already exists: this directory is already a drive",
                                  escape_bytes(layout.catalog())));
    }
    Space space = fs_space(exists ? dir : parent);
    uint64_t piece = o.piece_size ? parse_size(*o.piece_size) : default_piece_size(space.capacity);
    if (piece < 4096) {
        throw Refusal(fmt::format("piece size {} is too small: at least 4096 bytes", piece));
    }
    if (o.kdf.given() && !o.encrypt) {
        throw Refusal("--kdf-memory and --kdf-passes go with --encrypt");
    }
    KdfParams kdf = o.kdf.over();
    std::optional<std::string> binary;
    if (o.install_binary) {
        binary = static_binary(o.from); // refused now, before the drive exists
    }
    if (o.dry_run) {
        JsonWriter j;
        j.begin_object();
        j.field("dry_run", true);
        j.field("drive", dir);
        j.field("encrypted", o.encrypt);
        j.field("piece_size", piece);
        j.field("capacity_bytes", space.capacity);
        j.field("free_bytes", space.available);
        j.end_object();
        if (g.json) {
            print_json(j);
        } else {
            say(g, fmt::format("dry run: would make {} a drive (piece size {}, {} free of {}){}; "
                               "nothing was changed",
                               escape_bytes(dir), format_size(piece), format_size(space.available),
                               format_size(space.capacity),
                               binary ? ", with " + escape_bytes(*binary) + " as bin/barge" : ""));
        }
        return ExitCode::ok;
    }
    std::optional<std::string> passphrase;
    if (o.encrypt) {
        // Asked before anything is made: no terminal and no file leaves nothing behind.
        passphrase = get_passphrase(g.passphrase_file, "passphrase for the new drive", true);
        if (!passphrase) {
            throw Refusal("--encrypt needs a passphrase: --passphrase-file FILE, "
                          "$BARGE_PASSPHRASE_FILE, or a terminal to ask on (twice)");
        }
    }
    if (!exists && ::mkdir(dir.c_str(), 0755) != 0) {
        throw_errno("mkdir", dir);
    }
    InitUndo undo(dir, !exists);
    std::optional<DriveLock> lock;
    try {
        lock.emplace(dir, DriveLock::Mode::exclusive, "init");
    } catch (...) {
        undo.lock_failed();
        throw;
    }
    std::string id = new_uuid();
    if (passphrase) {
        // The key file first: a catalog without it could never be opened.
        SecretKey key = SecretKey::random();
        WrappedKey wrapped = wrap_key(key, *passphrase, id, kdf);
        sodium_memzero(passphrase->data(), passphrase->size());
        write_file_atomic(layout.key_file(), format_wrapped_key(wrapped), 0644);
        layout.keys = DriveKeys::derive(std::move(key), id);
    }
    {
        Catalog cat = Catalog::create(layout.catalog(), piece, id, layout.keys);
        // A name for people, shown beside the id by 'drive list' and status (SPEC §9).
        std::string abs = absolute_path(dir);
        cat.set_meta("label", o.label.value_or(abs.substr(abs.rfind('/') + 1)));
    }
    ensure_dir(layout.cargo());
    ensure_dir(layout.logs());
    fsync_dir(dir);
    JsonWriter j;
    j.begin_object();
    j.field("drive", dir);
    j.field("drive_id", id);
    j.field("piece_size", piece);
    j.field("capacity_bytes", space.capacity);
    j.field("free_bytes", space.available);
    j.field("encrypted", o.encrypt);
    if (!g.json) {
        say(g, fmt::format("initialized {}drive {} (piece size {}, {} free of {})",
                           o.encrypt ? "encrypted " : "", escape_bytes(dir), format_size(piece),
                           format_size(space.available), format_size(space.capacity)));
        if (o.encrypt) {
            say(g, "keep the passphrase safe: without it (or a key saved at an endpoint) "
                   "nothing on this drive can be read, by anyone");
        }
    }
    if (binary) {
        install_binary(g, layout, binary, j);
    }
    j.end_object();
    undo.done();
    if (g.json) {
        print_json(j);
    }
    return ExitCode::ok;
}

} // namespace

void add_init(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<InitOptions>();
    auto* sub = app.add_subcommand("init", "make DIR (default: the working directory) a drive");
    sub->add_option("DIR", o->dir, "the directory on the external drive");
    sub->add_option("--piece-size", o->piece_size,
                    "largest piece on the cargo (default: 1GiB, or 1/16 of the drive if smaller)")
        ->option_text("SIZE");
    sub->add_flag("--install-binary", o->install_binary,
                  "also copy a static barge onto the drive (DIR/bin/barge), see install-binary");
    sub->add_option("--from", o->from, "with --install-binary: the static barge to copy")
        ->option_text("FILE");
    sub->add_flag("-n,--dry-run", o->dry_run, "check everything and say what would be made");
    sub->add_option("--label", o->label,
                    "a name for this drive, shown beside its id where drives are listed (default: "
                    "the directory's name)");
    sub->add_flag("--encrypt", o->encrypt,
                  "encrypt everything on the drive (passphrase: --passphrase-file, "
                  "$BARGE_PASSPHRASE_FILE, or asked twice on the terminal)");
    add_kdf_options(sub, o->kdf); // with --encrypt
    sub->footer("Example: barge init /media/usb/barge --install-binary");
    sub->callback([&g, &action, o] { action = [&g, o] { return run_init(g, *o); }; });
}

} // namespace barge::cli
