#pragma once

#include "barge/cli/context.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/load.hpp"
#include "barge/engine/unload.hpp"

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

// Closes a {"pairs":[...] document (adding the cargo), records the run and
// prints the document with --json; returns the exit code.
ExitCode finish_document(Session& s, const Globals& g, RunRecorder& run, JsonWriter& j,
                         const Totals& totals,
                         RunRecorder::Record record = RunRecorder::Record::always);

// Loads one pair, printing its summary (text) or appending a pair object to the
// open JSON array. A refusal for this pair is reported and returns exit 2.
PairOutcome load_one(Session& s, const Globals& g, const Pair& pair, const LoadOptions& options,
                     JsonWriter& j, TermProgress* progress);
PairOutcome unload_one(Session& s, const Globals& g, const Pair& pair,
                       const UnloadOptions& options, JsonWriter& j, TermProgress* progress);

} // namespace barge::cli
