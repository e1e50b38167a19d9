#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/verify.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

ExitCode run_verify_middle(const Globals& g, const std::vector<std::string>& names) {
    Session s(g, "verify-middle", Session::Lock::exclusive);
    auto pairs = s.select_pairs(names);
    RunRecorder run(s.catalog(), "verify-middle", "drive", pairs);
    auto progress = make_progress(g, s, pairs);
    VerifyResult r = verify_middle(s.catalog(), s.layout(), pairs, progress.get());
    if (progress) {
        progress->finish();
    }
    JsonWriter j;
    j.begin_object();
    verify_json(j, r);
    cargo_json(j, s.catalog(), s.layout());
    j.end_object();
    ExitCode code = r.bad > 0 ? ExitCode::corrupt : ExitCode::ok;
    run.finish(code, r.checked, r.bytes, r.bad, j.str());
    if (g.json) {
        print_json(j);
    } else {
        say(g, verify_text("cargo", r));
    }
    return code;
}

} // namespace

void add_verify_middle(CLI::App& app, Globals& g, Action& action) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* vm = app.add_subcommand(
        "verify-middle", "re-hash every piece on the cargo against the catalog; corrupt or "
                         "missing pieces are reported, removed and carried again");
    vm->add_option("PAIR", *names, "pairs whose files to name (default: all)");
    vm->footer("Example: barge verify-middle");
    vm->callback([&g, &action, names] { action = [&g, names] { return run_verify_middle(g, *names); }; });
}

} // namespace barge::cli
