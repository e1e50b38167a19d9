#pragma once

#include <optional>
#include <string>

namespace barge::cli {

// Asks a question on the terminal (stderr) and returns the line typed; nullopt
// when stdin is not a terminal (cron, systemd): never blocks an unattended run.
std::optional<std::string> ask(const std::string& question);

} // namespace barge::cli
