#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/cli/unlock.hpp"
#include "barge/engine/verify.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

struct VerifyDestCli {
    std::vector<std::string> pairs;
    std::optional<std::string> sample;
    std::optional<std::string> max_time;
    bool dry_run = false;
};

ExitCode run_verify_dest(const Globals& g, const VerifyDestCli& o) {
    VerifyDestOptions opts;
    if (o.sample) {
        // "10" or "10%": a percentage above 0 and up to 100.
        std::string text = *o.sample;
        if (!text.empty() && text.back() == '%') {
            text.pop_back();
        }
        char* end = nullptr;
        double pct = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !(pct > 0 && pct <= 100)) {
            throw Refusal(fmt::format("invalid --sample '{}': a percentage above 0 and up to 100 "
                                      "(e.g. 10 or 10%)",
                                      escape_bytes(*o.sample)));
        }
        opts.sample_percent = pct;
    }
    if (o.max_time) {
        opts.max_seconds = parse_duration(*o.max_time);
    }
    opts.dry_run = o.dry_run;
    opts.copy_keys = saved_keys_for_copy;
    Session s(g, "verify-destination", Session::Lock::exclusive);
    auto pairs = s.select_pairs(o.pairs);
    std::optional<EndpointSync> sync;
    if (!o.dry_run) {
        sync.emplace(s.catalog(), s.layout(), pairs);
    }
    RunRecorder run(s.catalog(), o.dry_run ? "verify-destination --dry-run" : "verify-destination",
                    "destination", pairs);
    auto progress = make_progress(g, s, pairs);
    JsonWriter j;
    j.begin_object();
    j.key("pairs");
    j.begin_array();
    ExitCode code = ExitCode::ok;
    int64_t files = 0, bytes = 0, bad = 0;
    for (const auto& p : pairs) {
        j.begin_object();
        j.field("name", p.name);
        try {
            VerifyResult r = verify_destination(s.catalog(), p, opts, progress.get());
            if (progress) {
                progress->finish();
            }
            verify_json(j, r);
            say(g, verify_text(g, p.name, r));
            failures_if_quiet(g, r.problems);
            files += r.checked;
            bytes += r.bytes;
            bad += r.bad;
            ExitCode pair_code = r.bad > 0 ? ExitCode::corrupt : ExitCode::ok;
            code = worst(code, pair_code);
            run.pair_done(p.id, "destination", pair_code, r.checked, r.bytes, r.bad);
        } catch (const Refusal& e) {
            spdlog::error("{}", e.what());
            j.field("error", e.what());
            code = worst(code, ExitCode::refused);
            run.pair_done(p.id, "destination", ExitCode::refused, 0, 0, 0);
        }
        j.end_object();
    }
    j.end_array();
    j.end_object();
    run.finish(code, files, bytes, bad, j,
               o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
    if (g.json) {
        print_json(j);
    }
    if (sync) {
        code = worst(code, sync->backup(code));
    }
    return code;
}

} // namespace

void add_verify_destination(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<VerifyDestCli>();
    auto* vd = app.add_subcommand(
        "verify-destination", "re-hash delivered files at the destination, least recently "
                              "verified first; mismatches are queued to be carried again");
    vd->add_option("PAIR", o->pairs, "pairs (default: all)");
    vd->add_option("--sample", o->sample, "verify only this percentage of the files")->option_text("PCT");
    vd->add_option("--max-time", o->max_time, "stop after this long; the next run continues")
        ->option_text("DUR");
    vd->add_flag("-n,--dry-run", o->dry_run, "print how many files it would verify; read and change nothing");
    vd->footer("Example: barge verify-destination --sample 10 --max-time 1h");
    vd->callback([&g, &action, o] { action = [&g, o] { return run_verify_dest(g, *o); }; });
}

} // namespace barge::cli
