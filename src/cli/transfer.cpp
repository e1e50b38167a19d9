#include "barge/cli/transfer.hpp"

#include "barge/engine/status.hpp"
#include "barge/fs/space.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace barge::cli {

ExitCode worst(ExitCode a, ExitCode b) {
    auto rank = [](ExitCode c) {
        switch (c) {
        case ExitCode::stopped:
            return 5;
        case ExitCode::corrupt:
            return 4;
        case ExitCode::refused:
            return 3;
        case ExitCode::partial:
            return 2;
        case ExitCode::busy:
            return 1;
        case ExitCode::ok:
            return 0;
        }
        return 0;
    };
    return rank(a) >= rank(b) ? a : b;
}

PairOutcome load_one(Session& s, const Globals& g, const Pair& pair, const LoadOptions& options,
                     JsonWriter& j, TermProgress* progress) {
    PairOutcome out;
    j.begin_object();
    j.field("name", pair.name);
    j.field("side", "source");
    try {
        LoadResult r = load_pair(s.catalog(), s.layout(), pair, options, progress);
        if (progress) {
            progress->finish();
        }
        CargoStatus cs = cargo_status(s.catalog(), s.layout());
        int64_t room = static_cast<int64_t>(cs.free_bytes + cs.used_bytes) -
                       static_cast<int64_t>(pair.reserve.resolve(cs.capacity_bytes));
        say(g, load_result_text(pair.name, r, room));
        load_result_json(j, r);
        out.files = r.files;
        out.bytes = r.bytes;
        out.failed = static_cast<int64_t>(r.failures.size() + r.scan.problems.size());
        if (out.failed > 0) {
            out.code = ExitCode::partial;
        }
        spdlog::info("load {}: carried {} files, {} bytes, {} pieces; {} failed; {} files waiting",
                     pair.name, r.files, r.bytes, r.pieces, out.failed, r.waiting_files);
    } catch (const Refusal& e) {
        spdlog::error("{}", e.what());
        j.field("error", e.what());
        out.code = ExitCode::refused;
    }
    j.end_object();
    return out;
}

PairOutcome unload_one(Session& s, const Globals& g, const Pair& pair,
                       const UnloadOptions& options, JsonWriter& j, TermProgress* progress) {
    PairOutcome out;
    j.begin_object();
    j.field("name", pair.name);
    j.field("side", "destination");
    try {
        UnloadResult r = unload_pair(s.catalog(), s.layout(), pair, options, progress);
        if (progress) {
            progress->finish();
        }
        say(g, unload_result_text(pair.name, r));
        unload_result_json(j, r);
        out.files = r.files + r.symlinks;
        out.bytes = r.bytes;
        out.failed = static_cast<int64_t>(r.failures.size());
        if (out.failed > 0) {
            out.code = ExitCode::partial;
        }
        spdlog::info("unload {}: delivered {} files, {} bytes, {} symlinks, {} dirs; {} failed; "
                     "{} corrupt pieces",
                     pair.name, r.files, r.bytes, r.symlinks, r.dirs, out.failed, r.corrupt_pieces);
    } catch (const Refusal& e) {
        spdlog::error("{}", e.what());
        j.field("error", e.what());
        out.code = ExitCode::refused;
    }
    j.end_object();
    return out;
}

} // namespace barge::cli
