#pragma once

#include "barge/cli/context.hpp"

namespace CLI {
class App;
}

namespace barge::cli {

// Registration of each command: one file per command (src/cli/cmd_<name>.cpp).
void add_init(CLI::App& app, Globals& g, Action& action);
void add_install_binary(CLI::App& app, Globals& g, Action& action);
void add_pair(CLI::App& app, Globals& g, Action& action);
void add_scan(CLI::App& app, Globals& g, Action& action);
void add_load(CLI::App& app, Globals& g, Action& action);
void add_unload(CLI::App& app, Globals& g, Action& action);
void add_run(CLI::App& app, Globals& g, Action& action);
void add_dump_cargo(CLI::App& app, Globals& g, Action& action);
void add_verify_destination(CLI::App& app, Globals& g, Action& action);
void add_verify_middle(CLI::App& app, Globals& g, Action& action);
void add_status(CLI::App& app, Globals& g, Action& action);
void add_log(CLI::App& app, Globals& g, Action& action);
void add_drive(CLI::App& app, Globals& g, Action& action);
void add_recover(CLI::App& app, Globals& g, Action& action);
void add_passphrase(CLI::App& app, Globals& g, Action& action);
void add_encrypt(CLI::App& app, Globals& g, Action& action);

} // namespace barge::cli
