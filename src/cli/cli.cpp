#include "barge/cli/cli.hpp"

#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/engine/progress.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <algorithm>
#include <cstdio>
#include <fmt/format.h>
#include <functional>
#include <optional>
#include <unistd.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {
// With --json, a command that stopped on an error still prints one document:
// {"error": MESSAGE, "exit_code": CODE} (the message is on stderr as well).
void json_error(const Globals& g, const std::string& message, ExitCode code) {
    if (!g.json || json_printed()) {
        return;
    }
    JsonWriter j;
    j.begin_object();
    j.field("error", message);
    j.field("exit_code", static_cast<int>(code));
    j.end_object();
    print_json(j);
}

bool g_stderr_tty = false;

extern "C" void on_stop_signal(int sig) {
    // First signal: stop at the next safe point (within about a second: copies
    // check between blocks). A second SIGINT kills at once (the default action),
    // which is still safe: every step is crash-safe.
    if (!stop_requested()) {
        // write(2) is async-signal-safe; the terminal's progress line is cleared first.
        static const char tty_msg[] = "\r\033[Kbarge: stopping at a safe point...\n";
        static const char msg[] = "barge: stopping at a safe point...\n";
        const char* m = g_stderr_tty ? tty_msg : msg;
        size_t n = g_stderr_tty ? sizeof tty_msg - 1 : sizeof msg - 1;
        ssize_t ignored = ::write(STDERR_FILENO, m, n);
        (void)ignored;
    }
    request_stop(sig);
    if (sig == SIGINT) {
        std::signal(SIGINT, SIG_DFL);
    }
}

void install_signal_handlers() {
    g_stderr_tty = ::isatty(STDERR_FILENO) != 0;
    struct sigaction sa{};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
        sigaction(sig, &sa, nullptr);
    }
    // A closed stdout (barge status | head) must give EPIPE, not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
}

void print_error(const char* what) {
    spdlog::error("{}", what);
}

// Levenshtein distance, for "did you mean".
size_t distance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// The subcommand of app named name, or null.
CLI::App* subcommand(CLI::App* app, const std::string& name) {
    for (auto* sub : app->get_subcommands([](CLI::App*) { return true; })) {
        if (sub->get_name() == name) {
            return sub;
        }
    }
    return nullptr;
}

// "unknown command 'lod'; did you mean 'load'?" (or the list of commands).
std::string unknown(CLI::App* app, const std::string& prefix, const std::string& word) {
    std::string best;
    size_t best_d = 3;
    std::string all;
    for (auto* sub : app->get_subcommands([](CLI::App*) { return true; })) {
        const std::string& name = sub->get_name();
        all += (all.empty() ? "" : ", ") + name;
        size_t d = starts_with(name, word) && word.size() >= 2 ? 1 : distance(word, name);
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    std::string msg = fmt::format("unknown command '{}{}'", prefix, escape_bytes(word));
    return best.empty() ? fmt::format("{}; the commands are: {}", msg, all)
                        : fmt::format("{}; did you mean '{}{}'?", msg, prefix, best);
}

// Help or the version, printed to stdout by print (CLI11 or barge itself): 0, or
// 1 when it could not all be written, as for a command's report. CLI11 flushes
// its stream itself, so the cause is errno right after the printing.
int print_help(const std::function<void()>& print) {
    errno = 0;
    print();
    return stdout_written(std::ferror(stdout) ? errno : 0) ? 0 : static_cast<int>(ExitCode::stopped);
}

// Finds the command words among argv (skipping the global options and the values
// of -d/--drive and --passphrase-file): checks them before CLI11 parses, so that a
// mistyped command gets "did you mean", and `barge help [COMMAND]` prints that
// command's help. Returns an exit code when it handled everything itself.
std::optional<int> check_commands(CLI::App& app, int argc, char** argv) {
    std::vector<std::string> words;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            break;
        }
        if (!a.empty() && a[0] == '-') {
            if (a == "-d" || a == "--drive" || a == "--passphrase-file") {
                ++i;
            }
            if (words.empty()) {
                continue;
            }
            break; // the command's own options: its words are known
        }
        words.push_back(a);
        CLI::App* cur = &app;
        for (const auto& w : std::vector<std::string>(words.begin(), words.end() - 1)) {
            cur = subcommand(cur, w);
        }
        if (!cur || cur->get_subcommands([](CLI::App*) { return true; }).empty()) {
            break; // a positional argument of the command
        }
        if (words.size() == 1 && a == "help") {
            CLI::App* target = &app;
            for (int k = i + 1; k < argc && target; ++k) {
                if (CLI::App* sub = subcommand(target, argv[k])) {
                    target = sub;
                } else {
                    break;
                }
            }
            return print_help([&] { std::fputs(target->help().c_str(), stdout); });
        }
        if (!subcommand(cur, a)) {
            std::string prefix;
            for (size_t k = 0; k + 1 < words.size(); ++k) {
                prefix += words[k] + " ";
            }
            spdlog::error("{}", unknown(cur, prefix, a));
            return static_cast<int>(ExitCode::refused);
        }
    }
    return std::nullopt;
}

// What every command accepts, shown in each command's help too.
const char* const globals_help =
    "Global options (before or after the command): -d, --drive DIR; --json; -q, --quiet; "
    "-v, --verbose; -y, --yes; --progress / --no-progress; --version; --help";

void add_global_help(CLI::App* app) {
    for (auto* sub : app->get_subcommands([](CLI::App*) { return true; })) {
        std::string footer = sub->get_footer();
        sub->footer(footer.empty() ? std::string(globals_help) : footer + "\n" + globals_help);
        add_global_help(sub);
    }
}

} // namespace

int run(int argc, char** argv) {
    install_signal_handlers();
    Globals g;
    setup_logging(g);
    CLI::App app{"barge: offsite backups by sneakernet, verified at every hop with BLAKE2b-512",
                 "barge"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("barge ") + BARGE_VERSION);
    app.add_option("-d,--drive", g.drive,
                   "the drive (default: $BARGE_DRIVE, else the nearest ancestor of the working "
                   "directory holding barge.db)")
        ->option_text("DIR");
    app.add_flag("--json", g.json, "print one JSON document on stdout instead of text");
    app.add_flag("-q,--quiet", g.quiet, "print nothing but warnings and errors");
    app.add_flag("-v,--verbose", g.verbose, "say more, on stderr");
    app.add_flag("-y,--yes", g.yes, "answer yes to every question");
    app.add_option("--passphrase-file", g.passphrase_file,
                   "encrypted drives: read the passphrase from FILE (default: "
                   "$BARGE_PASSPHRASE_FILE, else ask on the terminal)")
        ->option_text("FILE");
    app.add_flag("--no-save-key", g.no_save_key,
                 "encrypted drives: do not save the drive's key at the endpoints");
    app.add_flag_callback("--progress", [&g] { g.progress = true; },
                          "draw the progress line on stderr even when it is not a terminal");
    app.add_flag_callback("--no-progress", [&g] { g.progress = false; },
                          "never draw the progress line");
    app.footer("Exit codes: 0 success, 1 stopped (I/O, catalog, internal), 2 usage or safety "
               "refusal, 3 some files failed, 4 verification found missing or corrupt data, "
               "75 another barge holds the drive.");

    // Global options are accepted after the command too (`barge status --json`):
    // subcommands inherit this setting when they are added.
    app.fallthrough();
    Action action;
    add_init(app, g, action);
    add_install_binary(app, g, action);
    add_pair(app, g, action);
    add_scan(app, g, action);
    add_load(app, g, action);
    add_unload(app, g, action);
    add_run(app, g, action);
    add_dump_cargo(app, g, action);
    add_verify_destination(app, g, action);
    add_verify_middle(app, g, action);
    add_status(app, g, action);
    add_log(app, g, action);
    add_drive(app, g, action);
    add_recover(app, g, action);
    add_passphrase(app, g, action);
    add_encrypt(app, g, action);
    add_global_help(&app);

    if (auto handled = check_commands(app, argc, argv)) {
        return *handled;
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (dynamic_cast<const CLI::RequiredError*>(&e) && argc > 0) {
            // No command (or no subcommand): show what there is to choose from.
            std::fputs(app.help().c_str(), stderr);
        }
        int code = 0;
        int printed = print_help([&] { code = app.exit(e); });
        // 0: --help or --version, printed to stdout; else an error, on stderr.
        return code == 0 ? printed : static_cast<int>(ExitCode::refused);
    }
    setup_logging(g);
    try {
        ExitCode code = action ? action() : ExitCode::refused;
        bool output_whole = stdout_written();
        if (ExitCode stopped = after_stop_request(code); stopped != code) {
            // Everything reported above is committed; the rest waits for the next run.
            spdlog::error("{}", Stopped().what());
            code = stopped;
        }
        if (!output_whole && code == ExitCode::ok) {
            // A cron job reading a cut report must not take it for a success; a
            // code that already says something else (4: corrupt data) stays.
            code = ExitCode::stopped;
        }
        return static_cast<int>(code);
    } catch (const Error& e) {
        print_error(e.what());
        json_error(g, e.what(), e.code());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        std::string what = std::string("internal error: ") + e.what();
        print_error(what.c_str());
        json_error(g, what, ExitCode::stopped);
        return static_cast<int>(ExitCode::stopped);
    }
}

} // namespace barge::cli
