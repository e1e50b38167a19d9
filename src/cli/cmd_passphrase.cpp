#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/crypto/keys.hpp"
#include "barge/fs/lock.hpp"
#include "barge/util/atomic_file.hpp"
#include "barge/util/json.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <fmt/format.h>
#include <sys/stat.h>

namespace barge::cli {

namespace {

struct PassphraseOptions {
    std::optional<std::string> new_file;
    KdfOptions kdf;
};

ExitCode run_change(const Globals& g, const PassphraseOptions& o) {
    DriveLayout layout = find_drive(g.drive);
    struct stat st{};
    if (::lstat(layout.key_file().c_str(), &st) != 0) {
        throw Refusal(fmt::format("drive '{}' is not encrypted (no barge.key): there is no "
                                  "passphrase to change",
                                  escape_bytes(layout.root)));
    }
    DriveLock lock(layout.root, DriveLock::Mode::exclusive, "passphrase change");
    WrappedKey wrapped = read_wrapped_key(layout.key_file());
    std::optional<KdfParams> kdf;
    if (o.kdf.given()) {
        kdf = o.kdf.over(wrapped.kdf);
    }
    // The current passphrase, never a saved key: whoever changes it must know it.
    auto old_pass = get_passphrase(g.passphrase_file, "current passphrase", false);
    if (!old_pass) {
        throw Refusal("the current passphrase is needed: --passphrase-file FILE, "
                      "$BARGE_PASSPHRASE_FILE, or a terminal to ask on");
    }
    SecretText old_w{std::move(*old_pass)};
    auto new_pass = get_passphrase(o.new_file, "new passphrase", true, false);
    if (!new_pass) {
        throw Refusal("the new passphrase is needed: --new-passphrase-file FILE, or a terminal "
                      "to ask on (twice)");
    }
    SecretText new_w{std::move(*new_pass)};
    WrappedKey fresh = rewrap_key(wrapped, old_w.text, new_w.text, kdf);
    write_file_atomic(layout.key_file(), format_wrapped_key(fresh), 0644);
    JsonWriter j;
    j.begin_object();
    j.field("drive", layout.root);
    j.field("changed", true);
    j.field("kdf_opslimit", fresh.kdf.opslimit);
    j.field("kdf_memlimit", fresh.kdf.memlimit);
    j.end_object();
    if (g.json) {
        print_json(j);
    } else {
        say(g, fmt::format("changed the passphrase of drive {} (Argon2id: {} passes, {}); the "
                           "copies of its wrapped key at the endpoints follow on the next run "
                           "that sees them",
                           escape_bytes(layout.root), fresh.kdf.opslimit,
                           format_size(fresh.kdf.memlimit)));
    }
    return ExitCode::ok;
}

} // namespace

void add_passphrase(CLI::App& app, Globals& g, Action& action) {
    auto* cmd = app.add_subcommand("passphrase", "an encrypted drive's passphrase");
    cmd->require_subcommand(1);
    auto o = std::make_shared<PassphraseOptions>();
    auto* change = cmd->add_subcommand(
        "change", "re-wrap the drive's key under a new passphrase (the current one is needed)");
    change->add_option("--new-passphrase-file", o->new_file,
                       "read the new passphrase from FILE (default: asked twice on the terminal)")
        ->option_text("FILE");
    add_kdf_options(change, o->kdf);
    change->footer("Example: barge passphrase change --passphrase-file old.txt "
                   "--new-passphrase-file new.txt");
    change->callback([&g, &action, o] { action = [&g, o] { return run_change(g, *o); }; });
}

} // namespace barge::cli
