#include "barge/cli/cli.hpp"

#include "barge/cli/commands.hpp"
#include "barge/cli/context.hpp"
#include "barge/engine/progress.hpp"

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
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
    add_recover(app, g, action);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        return code == 0 ? 0 : static_cast<int>(ExitCode::refused);
    }
    setup_logging(g);
    try {
        ExitCode code = action ? action() : ExitCode::refused;
        std::fflush(stdout);
        if (ExitCode stopped = after_stop_request(code); stopped != code) {
            // Everything reported above is committed; the rest waits for the next run.
            spdlog::error("{}", Stopped().what());
            code = stopped;
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
