#pragma once

#include "barge/crypto/keys.hpp"

#include <memory>
#include <string>

namespace barge {

// An unlocked encrypted drive: its data key and the subkeys each use derives from it
// (docs/encryption.md, "Subkeys"). Held by DriveLayout::keys for the whole command.
struct DriveKeys {
    std::string drive_id;
    SecretKey data;
    SecretKey pieces, names, catalog, logs;

    // Derives every subkey of data.
    static std::shared_ptr<const DriveKeys> derive(SecretKey data, std::string drive_id);
};

// A copy of a key (a PageProtection takes its own).
SecretKey copy_key(const SecretKey& key);

} // namespace barge
