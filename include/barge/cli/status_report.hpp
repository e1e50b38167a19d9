#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/cli/context.hpp"
#include "barge/cli/drive_view.hpp"
#include "barge/engine/status.hpp"
#include "barge/util/json.hpp"

#include <optional>
#include <string>
#include <vector>

namespace barge::cli {

// The newest run that worked on a side, as status shows it.
struct LastRun {
    int64_t started_ns = 0;
    std::string host, command;
    std::optional<int64_t> exit_code; // none: it did not finish
    int64_t files = 0, bytes = 0, failed = 0;
};

// One pair as `barge status` shows it (SPEC §5).
struct PairReport {
    std::string name, source, dest;
    PairStatus status;
    int64_t trips = 0; // -1: no room on this drive
    std::optional<int64_t> last_scan_ns;
    std::optional<LastRun> last_load, last_unload, last_verify;
    // The drives serving the pair, this one first (SPEC §9), and what of the
    // pending files another drive carries.
    std::vector<DriveView> drives;
    Counts carried_elsewhere;
};

// The most undelivered files or pieces on the cargo status passes over to
// count what is reclaimable (StatusStore::reclaimable_within): about 0.15 s.
constexpr int64_t status_reclaim_rows = 100'000;

// The drive as `barge status` shows it.
struct DriveReport {
    std::string root;
    int64_t pieces = 0;
    uint64_t used = 0, free = 0, capacity = 0;
    // Delivered pieces still on the cargo; not counted when that would take a
    // pass over many undelivered files and many pieces (status_reclaim_rows).
    std::optional<uint64_t> reclaimable;
    // The newest runs on the drive: scan, load (load or a run that loaded), unload,
    // verify-destination, verify-middle.
    std::optional<LastRun> last_scan, last_load, last_unload, last_verify_destination,
        last_verify_middle;
    std::vector<PairReport> pairs;
    // What a barge running now says it is doing ("" fields when none runs).
    struct Running {
        std::string who, command, phase, since, updated, eta;
        int64_t files = 0, total_files = 0, bytes = 0, total_bytes = 0, bytes_per_second = 0;
    };
    std::optional<Running> running;
};

// Reads the report from the catalog (and the drive's free space).
DriveReport collect_report(Session& s, const std::vector<Pair>& pairs);
// The report as a JSON object (report_json's fields), and back: the snapshot a
// running barge leaves in its lock file, for status to show during the run.
std::string report_snapshot(const DriveReport& r);
DriveReport report_from_json(const JsonValue& v);

// The status document's fields (inside an open object), its text, its
// Prometheus text (node_exporter's textfile collector), and its problems for
// `status --check`: a pair whose last load, unload or verify-destination did not
// succeed or is older than max_age_s.
void report_json(JsonWriter& j, const DriveReport& r);
std::string report_text(const DriveReport& r);
std::string report_metrics(const DriveReport& r, int64_t now_ns, double max_age_s);
std::vector<std::string> report_problems(const DriveReport& r, int64_t now_ns, double max_age_s);

} // namespace barge::cli
