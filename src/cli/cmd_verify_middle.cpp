#include "barge/cli/commands.hpp"
#include "barge/catalog/contents.hpp"
#include "barge/catalog/status_store.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/verify.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

struct VerifyMiddleCli {
    std::vector<std::string> pairs;
    bool dry_run = false;
};

ExitCode run_verify_middle(const Globals& g, const VerifyMiddleCli& o) {
    Session s(g, "verify-middle", Session::Lock::exclusive, Catalog::Check::full);
    auto pairs = s.select_pairs(o.pairs);
    RunRecorder run(s.catalog(), o.dry_run ? "verify-middle --dry-run" : "verify-middle", "drive",
                    pairs);
    if (!o.dry_run) {
        // The kept counts status reads (catalog/status_store.hpp), recounted: the
        // catalog's full check is the place for a full pass.
        Transaction tx(s.catalog().db());
        StatusStore store(s.catalog().db());
        for (const auto& m : store.recount_delivered()) {
            spdlog::warn("pair {}: the catalog's count of delivered files was {} ({} B), the "
                         "entries say {} ({} B): set right",
                         m.pair_id, m.kept.files, m.kept.bytes, m.counted.files, m.counted.bytes);
        }
        if (auto m = store.recount_cargo()) {
            spdlog::warn("the catalog's count of pieces on the cargo was {} ({} B), the pieces say "
                         "{} ({} B): set right",
                         m->kept.files, m->kept.bytes, m->counted.files, m->counted.bytes);
        }
        UndeliveredRecount u = store.recount_undelivered();
        if (u.contents > 0) {
            spdlog::warn("the catalog's count of pieces on the cargo was wrong for {} content(s): "
                         "set right",
                         u.contents);
        }
        static const char* const states[] = {"waiting", "on the cargo", "failed", "not hashed"};
        for (const auto& m : u.states) {
            spdlog::warn("pair {}: the catalog's count of undelivered files {} was {} ({} B), the "
                         "entries say {} ({} B): set right",
                         m.pair_id, m.state >= 0 && m.state < 4 ? states[m.state] : "?",
                         m.kept.files, m.kept.bytes, m.counted.files, m.counted.bytes);
        }
        // What nothing needs, forgotten with a pass over every content: each run
        // forgets what its triggers noted; this finds what they could not.
        Forgotten f = forget_unneeded(s.catalog().db(), Forget::all);
        if (f.contents + f.pieces > 0) {
            spdlog::info("forgot {} content(s) and {} piece(s) that nothing needs", f.contents, f.pieces);
        }
        tx.commit();
    }
    auto progress = make_progress(g, s, pairs);
    VerifyResult r = verify_middle(s.catalog(), s.layout(), pairs, progress.get(), o.dry_run);
    if (progress) {
        progress->finish();
    }
    JsonWriter j;
    j.begin_object();
    verify_json(j, r);
    cargo_json(j, s.catalog(), s.layout());
    j.end_object();
    ExitCode code = r.bad > 0 ? ExitCode::corrupt : ExitCode::ok;
    for (const auto& p : pairs) {
        run.pair_done(p.id, "drive", code, r.checked, r.bytes, r.bad);
    }
    run.finish(code, r.checked, r.bytes, r.bad, j,
               o.dry_run ? RunRecorder::Record::if_started : RunRecorder::Record::always);
    if (g.json) {
        print_json(j);
    } else {
        say(g, verify_text(g, "cargo", r));
        failures_if_quiet(g, r.problems);
    }
    return code;
}

} // namespace

void add_verify_middle(CLI::App& app, Globals& g, Action& action) {
    auto o = std::make_shared<VerifyMiddleCli>();
    auto* vm = app.add_subcommand(
        "verify-middle", "re-hash every piece on the cargo against the catalog; corrupt or "
                         "missing pieces are reported, removed and carried again");
    vm->add_option("PAIR", o->pairs, "pairs whose files to name (default: all)");
    vm->add_flag("-n,--dry-run", o->dry_run, "print how many pieces it would verify; read and change nothing");
    vm->footer("Example: barge verify-middle");
    vm->callback([&g, &action, o] { action = [&g, o] { return run_verify_middle(g, *o); }; });
}

} // namespace barge::cli
