#include "barge/cli/sides.hpp"

#include "barge/cli/unlock.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/space.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

namespace {

// One pair's object in the {"pairs":[...]} array: the work itself fills it and
// returns the outcome; a refusal for this pair is reported here and means exit 2.
template <typename Work>
PairOutcome one_pair(const Pair& pair, const char* side, JsonWriter& j, CliProgress* progress,
                     RunRecorder& run, Work&& work) {
    j.begin_object();
    j.field("name", pair.name);
    j.field("side", side);
    PairOutcome out;
    try {
        PairOutcome done = work();
        out = done;
        if (progress) {
            progress->finish();
        }
        if (out.failed > 0) {
            out.code = ExitCode::partial;
        }
    } catch (const Refusal& e) {
        // A fresh outcome: the assignment above may have reused out's storage
        // (return slot) before work() threw.
        spdlog::error("{}", e.what());
        j.field("error", e.what());
        out = PairOutcome{ExitCode::refused};
    }
    j.end_object();
    run.pair_done(pair.id, side, out.code, out.files, out.bytes, out.failed);
    return out;
}

} // namespace

void Totals::add(const PairOutcome& po) {
    code = worst(code, po.code);
    files += po.files;
    bytes += po.bytes;
    failed += po.failed;
}

ExitCode each_pair(Session& s, const Globals& g, RunRecorder& run, EndpointSync* sync,
                   JsonWriter& j, const std::vector<Pair>& pairs,
                   const std::function<PairOutcome(const Pair&, CliProgress*)>& work,
                   RunRecorder::Record record, const std::function<ExitCode(ExitCode)>& conclude) {
    auto progress = make_progress(g, s, pairs);
    j.key("pairs");
    j.begin_array();
    Totals totals;
    for (const auto& p : pairs) {
        totals.add(work(p, progress.get()));
    }
    j.end_array();
    if (conclude) {
        totals.code = conclude(totals.code);
    }
    cargo_json(j, s.catalog(), s.layout());
    j.end_object();
    run.finish(totals.code, totals.files, totals.bytes, totals.failed, j, record);
    if (g.json) {
        print_json(j);
    }
    if (sync) {
        totals.code = worst(totals.code, sync->backup(totals.code));
    }
    return totals.code;
}

PairOutcome load_one(Session& s, const Globals& g, const Pair& pair, LoadOptions& options,
                     JsonWriter& j, CliProgress* progress, RunRecorder& run) {
    return one_pair(pair, "source", j, progress, run, [&] {
        LoadOptions o = options;
        o.copy_keys = saved_keys_for_copy;
        LoadResult r = load_pair(s.catalog(), s.layout(), pair, o, progress);
        // The shared budget is charged only here, on return: a load that throws
        // after counting pieces throws an I/O or catalog error, which ends the
        // whole command, so no later pair could spend what it used. (The one
        // error a pair survives, a Refusal, comes from its scan, before any.)
        if (options.max_bytes) {
            *options.max_bytes -= std::min(*options.max_bytes, static_cast<uint64_t>(r.budget_used));
        }
        CargoStatus cs = cargo_status(s.catalog(), s.layout());
        int64_t room = static_cast<int64_t>(cs.free_bytes + cs.used_bytes) -
                       static_cast<int64_t>(pair.reserve.resolve(cs.capacity_bytes));
        say(g, load_result_text(g, pair.name, r, room));
        failures_if_quiet(g, r.scan.problems);
        failures_if_quiet(g, r.failures);
        load_result_json(j, r, g.json);
        PairOutcome out{ExitCode::ok, r.files, r.bytes,
                        static_cast<int64_t>(r.failures.size() + r.scan.problems.size())};
        spdlog::info("load {}: carried {} files, {} bytes, {} pieces; {} failed; {} files waiting",
                     pair.name, r.files, r.bytes, r.pieces, out.failed, r.waiting_files);
        return out;
    });
}

PairOutcome unload_one(Session& s, const Globals& g, const Pair& pair,
                       const UnloadOptions& options, JsonWriter& j, CliProgress* progress,
                       RunRecorder& run) {
    return one_pair(pair, "destination", j, progress, run, [&] {
        UnloadOptions o = options;
        o.copy_keys = saved_keys_for_copy;
        UnloadResult r = unload_pair(s.catalog(), s.layout(), pair, o, progress);
        say(g, unload_result_text(g, pair.name, r));
        failures_if_quiet(g, r.failures);
        unload_result_json(j, r, g.json);
        PairOutcome out{ExitCode::ok, r.files + r.symlinks + r.special_files, r.bytes,
                        static_cast<int64_t>(r.failures.size())};
        spdlog::info("unload {}: delivered {} files, {} bytes, {} symlinks, {} dirs; {} failed; "
                     "{} corrupt pieces",
                     pair.name, r.files, r.bytes, r.symlinks, r.dirs, out.failed, r.corrupt_pieces);
        return out;
    });
}

} // namespace barge::cli
