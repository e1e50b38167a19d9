#pragma once

#include "barge/cli/context.hpp"
#include "barge/fs/drive.hpp"
#include "barge/util/json.hpp"

#include <optional>
#include <string>

namespace barge::cli {

// Copies a static barge to DRIVE/bin/barge through the transfer pipeline (written
// under a temporary name, synced, read back from the drive and compared with the
// BLAKE2b-512 taken while reading it, renamed), so a destination without barge can
// unload from the drive. The binary is --from, else this barge if it is static,
// else barge-static next to it; one that is not a static barge is refused (exit 2).
// The static barge install_binary would copy: --from, else this barge if it is
// static, else barge-static next to it. Throws Refusal (exit 2) when the one
// chosen is not a static barge: dynamically linked, or not barge at all.
std::string static_binary(const std::optional<std::string>& from);

void install_binary(const Globals& g, const DriveLayout& layout,
                    const std::optional<std::string>& from, JsonWriter& j);

} // namespace barge::cli
