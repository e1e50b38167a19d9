#pragma once

#include "barge/crypto/drive_keys.hpp"
#include "barge/crypto/keys.hpp"
#include "barge/fs/drive.hpp"

#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace barge::cli {

struct Globals;

// A passphrase (or other secret text), wiped when it goes out of scope.
struct SecretText {
    std::string text;
    ~SecretText();
};

// Where a passphrase comes from (SPEC §10): --passphrase-file FILE, else the file
// $BARGE_PASSPHRASE_FILE names, else the terminal (asked twice when confirm, for
// a new passphrase). nullopt when there is none of these (cron, no file given).
// A file's one trailing newline is not part of the passphrase; an empty one is refused.
// use_env false: $BARGE_PASSPHRASE_FILE is not consulted (a new passphrase).
std::optional<std::string> get_passphrase(const std::optional<std::string>& file,
                                          const std::string& prompt, bool confirm,
                                          bool use_env = true);

// Unlocks an encrypted drive (one with DRIVE/barge.key) and sets layout.keys; a
// plain drive is left alone. The data key comes from a key saved at an endpoint
// this machine knows (the state directory's list), else from the passphrase.
// Throws Refusal (exit 2) when neither is at hand, WrongPassphrase, KeyFileError
// for a malformed key file, Refusal for a saved key file with loose permissions.
void unlock(DriveLayout& layout, const Globals& g);

// After the drive's catalog proved genuine at these visible endpoint roots (the
// generation check): saves the data key there (0600) with a copy of the wrapped
// key, and lists the roots in this machine's state directory, so that cron needs
// no passphrase (SPEC §10). Nothing for a plain drive, or with --no-save-key.
// Failures are warnings.
void save_keys_at(const DriveLayout& layout, const std::vector<std::string>& roots);

// This machine's list of endpoint roots that hold saved keys:
// $BARGE_STATE_DIR, else /var/lib/barge for root, else $XDG_STATE_HOME/barge
// (~/.local/state/barge), then "/endpoints".
std::string endpoints_list_path();

// The saved data key and the wrapped key's copy at an endpoint root.
std::string saved_key_path(const std::string& root, const std::string& drive_id);
std::string wrapped_key_copy_path(const std::string& root, const std::string& drive_id);

// Whether the catalog (or copy) at path has pages sealed with a key (no plain
// SQLite header).
bool is_sealed_catalog(const std::string& path);

// The keys of an encrypted catalog copy at an endpoint (ROOT/.barge/catalog-ID.db,
// for `barge recover`): the copy of the wrapped key beside it, unlocked by the key
// saved beside it or by the passphrase. Throws like unlock().
struct EndpointKeys {
    std::shared_ptr<const DriveKeys> keys;
    std::string wrapped_text; // the drive's barge.key, as it was copied there
};
EndpointKeys keys_for_copy(const std::string& copy_path, const Globals& g);

// The keys for reading another drive's catalog copy at an endpoint without
// asking anyone (what the other drives know, SPEC §9): null for a plain copy,
// the key saved beside an encrypted one; Refusal when none is saved there.
std::shared_ptr<const DriveKeys> saved_keys_for_copy(const std::string& copy_path);

// The Argon2id cost from --kdf-memory SIZE and --kdf-passes N over `base`;
// throws Refusal (exit 2) for a cost barge would not accept.
KdfParams kdf_from_options(const std::optional<std::string>& memory,
                           const std::optional<uint64_t>& passes, KdfParams base = {});

// The Argon2id cost options of a command, as kdf_from_options reads them.
struct KdfOptions {
    std::optional<std::string> memory;
    std::optional<uint64_t> passes;
    KdfParams over(KdfParams base = {}) const { return kdf_from_options(memory, passes, base); }
    bool given() const { return memory || passes; }
};
// Adds --kdf-memory SIZE and --kdf-passes N to a command.
void add_kdf_options(CLI::App* command, KdfOptions& o);

// Reads and parses DRIVE/barge.key (or a copy of it); throws KeyFileError.
WrappedKey read_wrapped_key(const std::string& path);

} // namespace barge::cli
