#pragma once

#include "barge/cli/context.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/load.hpp"
#include "barge/engine/unload.hpp"

#include <functional>

namespace barge::cli {

// What one pair's load or unload amounted to, for the exit code and the run record.
struct PairOutcome {
    ExitCode code = ExitCode::ok;
    int64_t files = 0, bytes = 0, failed = 0;
};

// The outcomes of a command's pairs, added up.
struct Totals : PairOutcome {
    void add(const PairOutcome& po);
};

// The frame of a command that works pair by pair (load, unload, run): appends
// each pair's object to the open {"pairs": [ array of j, then closes the document
// (adding the cargo), records the run and each pair's outcome, prints the
// document with --json, and leaves the catalog copies at the endpoints (sync,
// when given). conclude, when given, may make the exit code worse once every pair
// is done (before it is recorded). Returns the exit code.
ExitCode each_pair(Session& s, const Globals& g, RunRecorder& run, EndpointSync* sync,
                   JsonWriter& j, const std::vector<Pair>& pairs,
                   const std::function<PairOutcome(const Pair&, CliProgress*)>& work,
                   RunRecorder::Record record = RunRecorder::Record::always,
                   const std::function<ExitCode(ExitCode)>& conclude = nullptr);

// Loads one pair, printing its summary (text) or appending a pair object to the
// open JSON array, and noting the outcome in the run record. A refusal for this
// pair is reported and returns exit 2. What the pair's pieces took is taken off
// options.max_bytes: --max-bytes is for the whole run, not for each pair.
PairOutcome load_one(Session& s, const Globals& g, const Pair& pair, LoadOptions& options,
                     JsonWriter& j, CliProgress* progress, RunRecorder& run);
PairOutcome unload_one(Session& s, const Globals& g, const Pair& pair,
                       const UnloadOptions& options, JsonWriter& j, CliProgress* progress,
                       RunRecorder& run);

} // namespace barge::cli
