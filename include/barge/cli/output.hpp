#pragma once

#include "barge/cli/context.hpp"
#include "barge/cli/progress.hpp"
#include "barge/engine/load.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/scan.hpp"
#include "barge/engine/unload.hpp"
#include "barge/engine/verify.hpp"

#include <memory>
#include <string>

namespace barge::cli {

// The scan summary as text (after text, its start) and as JSON fields (inside an
// open object). The lines of many problems go to stdout as the text grows
// (unless g says quiet or JSON): the text returned is what follows them, for say().
std::string scan_result_text(const Globals& g, std::string text, const std::string& pair,
                             const ScanResult& r);
void scan_result_json(JsonWriter& j, const ScanResult& r);
// With -q the summary is not printed: its failures go to stderr as errors, so a
// failed file is still said once (it is always in the drive's log).
void failures_if_quiet(const Globals& g, const Problems& problems);
// key: a UTC time, or null.
void time_json(JsonWriter& j, const char* key, const std::optional<int64_t>& ns);
// "problems": [{"path","reason"}] inside an open object. Of more than
// Problems::held, the run's recorded summary (JsonWriter::str) keeps the first.
void problems_json(JsonWriter& j, const std::vector<FileProblem>& problems);
void problems_json(JsonWriter& j, const Problems& problems);


// Load and unload summaries, as text and as JSON fields (inside an open object).
// A dry run's plan and many problems are printed as they are read (unless g
// says quiet or JSON): the text returned is what follows them, for say().
std::string load_result_text(const Globals& g, const std::string& pair, const LoadResult& r, int64_t trip_room);
// with_plan: a dry run's plan as "plan" (for --json only: the same JSON is the
// run's summary otherwise, and a recorded summary never holds a plan). The plan
// is read back from its file only as the document is printed (plan_json).
void load_result_json(JsonWriter& j, const LoadResult& r, bool with_plan);
std::string unload_result_text(const Globals& g, const std::string& pair, const UnloadResult& r);
void unload_result_json(JsonWriter& j, const UnloadResult& r, bool with_plan);
// A verification's summary, as JSON fields (inside an open object) and as text.
void verify_json(JsonWriter& j, const VerifyResult& r);
std::string verify_text(const Globals& g, const std::string& what, const VerifyResult& r);
// "cargo": {"used_bytes","free_bytes"} inside an open object.
void cargo_json(JsonWriter& j, Catalog& catalog, const DriveLayout& layout);

} // namespace barge::cli
