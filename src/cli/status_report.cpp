#include "barge/cli/status_report.hpp"

#include "barge/catalog/status_store.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <algorithm>
#include <fmt/format.h>

namespace barge::cli {

namespace {

std::optional<LastRun> from(const std::optional<RunRecord>& r) {
    if (!r) {
        return std::nullopt;
    }
    return LastRun{r->started_ns, r->host, r->command, r->exit_code, r->files, r->bytes, r->failed};
}

std::optional<LastRun> from(const std::optional<PairRun>& r) {
    if (!r) {
        return std::nullopt;
    }
    return LastRun{r->started_ns, r->host, r->command, r->exit_code, r->files, r->bytes, r->failed};
}

void counts_json(JsonWriter& j, const char* key, const Counts& c) {
    j.key(key);
    j.begin_object();
    j.field("files", c.files);
    j.field("bytes", c.bytes);
    j.end_object();
}

Counts counts_from(const JsonValue& v) {
    return {v["files"].num(), v["bytes"].num()};
}

std::optional<int64_t> time_from(const JsonValue& v) {
    auto s = v.opt_str();
    return s ? parse_utc(*s) : std::nullopt;
}

void last_json(JsonWriter& j, const char* key, const std::optional<LastRun>& r) {
    j.key(key);
    if (!r) {
        j.null();
        return;
    }
    j.begin_object();
    j.field("time", format_utc(r->started_ns));
    j.field("host", r->host);
    j.field("command", r->command);
    if (r->exit_code) {
        j.field("exit_code", *r->exit_code);
    } else {
        j.key("exit_code");
        j.null();
    }
    j.field("files", r->files);
    j.field("bytes", r->bytes);
    j.field("failed", r->failed);
    j.end_object();
}

std::optional<LastRun> last_from(const JsonValue& v) {
    if (!v.is_object()) {
        return std::nullopt;
    }
    return LastRun{time_from(v["time"]).value_or(0), v["host"].str(), v["command"].str(),
                   v["exit_code"].opt_num(), v["files"].num(), v["bytes"].num(), v["failed"].num()};
}

// --max-age as status --check says it, in the largest unit it is a whole number
// of: "30 days", "36 hours", "90 minutes", "1 second".
std::string max_age_text(double seconds) {
    auto s = static_cast<int64_t>(seconds);
    for (auto [unit, noun] : {std::pair{int64_t{86400}, "day"}, std::pair{int64_t{3600}, "hour"},
                              std::pair{int64_t{60}, "minute"}}) {
        if (s >= unit && s % unit == 0) {
            return plural(s / unit, noun);
        }
    }
    return plural(s, "second");
}

std::string counts_text(const Counts& c) {
    return fmt::format("{}, {}", plural(c.files, "file"), format_size(static_cast<uint64_t>(c.bytes)));
}

std::string when(const std::optional<LastRun>& r) {
    if (!r) {
        return "never";
    }
    std::string s = fmt::format("{} on {}", format_utc(r->started_ns), r->host);
    if (r->command == "run") {
        s += " (barge run)";
    }
    if (r->exit_code) {
        s += fmt::format(" (exit {}, {}, {})", *r->exit_code, plural(r->files, "file"),
                         format_size(static_cast<uint64_t>(r->bytes)));
    } else {
        s += " (did not finish)";
    }
    return s;
}

void pair_json(JsonWriter& j, const PairReport& p) {
    const PairStatus& ps = p.status;
    j.begin_object();
    j.field("name", p.name);
    j.field("source", p.source);
    j.field("dest", p.dest);
    counts_json(j, "pending", ps.pending);
    counts_json(j, "on_cargo", ps.on_cargo);
    counts_json(j, "delivered", ps.delivered);
    counts_json(j, "failed", ps.failed);
    j.field("unhashed", ps.unhashed);
    j.field("deletions_pending", ps.deletions_pending);
    j.field("trips_needed", p.trips);
    counts_json(j, "carried_elsewhere", p.carried_elsewhere);
    drives_json(j, p.drives);
    time_json(j, "last_scan", p.last_scan_ns);
    time_json(j, "oldest_verification", ps.oldest_verified_ns);
    time_json(j, "newest_verification", ps.newest_verified_ns);
    last_json(j, "last_load", p.last_load);
    last_json(j, "last_unload", p.last_unload);
    last_json(j, "last_verify", p.last_verify);
    problems_json(j, ps.failures);
    j.field("missed_files", ps.missed_files);
    j.key("missed");
    j.begin_array();
    for (const auto& m : ps.missed) {
        j.begin_object();
        j.field("path", m.rel);
        j.field("since", format_utc(m.since_ns));
        j.field("tries", m.tries);
        j.end_object();
    }
    j.end_array();
    j.end_object();
}

} // namespace

DriveReport collect_report(Session& s, const std::vector<Pair>& pairs) {
    Catalog& c = s.catalog();
    DriveReport r;
    r.root = s.layout().root;
    CargoStatus cargo = cargo_status(c, s.layout());
    r.pieces = cargo.pieces;
    r.used = cargo.used_bytes;
    r.free = cargo.free_bytes;
    r.capacity = cargo.capacity_bytes;
    if (auto reclaim = StatusStore(c.db()).reclaimable_within(status_reclaim_rows)) {
        r.reclaimable = static_cast<uint64_t>(reclaim->bytes);
    }
    r.last_scan = from(c.last_run("scan"));
    r.last_load = from(c.last_run_of({"load", "run"}, {"source", "both"}));
    r.last_unload = from(c.last_run_of({"unload", "run"}, {"destination", "both"}));
    r.last_verify_destination = from(c.last_run("verify-destination"));
    r.last_verify_middle = from(c.last_run("verify-middle"));
    for (const auto& p : pairs) {
        PairReport pr{p.name, p.source, p.dest, pair_status(c, p), 0, p.last_scan_ns, {}, {}, {}, {}, {}};
        int64_t room = static_cast<int64_t>(cargo.free_bytes + cargo.used_bytes) -
                       static_cast<int64_t>(p.reserve.resolve(cargo.capacity_bytes));
        pr.trips = trips_needed(pr.status.pending.bytes + pr.status.failed.bytes, room);
        pr.last_load = from(c.last_pair_run(p.id, "source", {"load", "run"}));
        pr.last_unload = from(c.last_pair_run(p.id, "destination", {"unload", "run"}));
        pr.last_verify = from(c.last_pair_run(p.id, "destination", {"verify-destination"}));
        pr.drives = drive_views(c, p, pr.status.on_cargo);
        auto [ef, eb] = carried_elsewhere(c.db(), p.id);
        pr.carried_elsewhere = Counts{ef, eb};
        r.pairs.push_back(std::move(pr));
    }
    return r;
}

std::string report_snapshot(const DriveReport& r) {
    JsonWriter j;
    j.begin_object();
    j.field("root", r.root);
    report_json(j, r);
    j.end_object();
    return j.str();
}

DriveReport report_from_json(const JsonValue& v) {
    DriveReport r;
    r.root = v["root"].str();
    const JsonValue& cargo = v["cargo"];
    r.used = static_cast<uint64_t>(cargo["used_bytes"].num());
    r.free = static_cast<uint64_t>(cargo["free_bytes"].num());
    r.capacity = static_cast<uint64_t>(cargo["capacity_bytes"].num());
    r.pieces = cargo["pieces"].num();
    if (!cargo["reclaimable_bytes"].is_null()) {
        r.reclaimable = static_cast<uint64_t>(cargo["reclaimable_bytes"].num());
    }
    const JsonValue& last = v["last_runs"];
    r.last_scan = last_from(last["scan"]);
    r.last_load = last_from(last["load"]);
    r.last_unload = last_from(last["unload"]);
    r.last_verify_destination = last_from(last["verify_destination"]);
    r.last_verify_middle = last_from(last["verify_middle"]);
    for (const auto& p : v["pairs"].items()) {
        PairReport pr;
        pr.name = p["name"].str();
        pr.source = p["source"].str();
        pr.dest = p["dest"].str();
        pr.status.pending = counts_from(p["pending"]);
        pr.status.on_cargo = counts_from(p["on_cargo"]);
        pr.status.delivered = counts_from(p["delivered"]);
        pr.status.failed = counts_from(p["failed"]);
        pr.status.unhashed = p["unhashed"].num();
        pr.status.deletions_pending = p["deletions_pending"].num();
        pr.status.oldest_verified_ns = time_from(p["oldest_verification"]);
        pr.status.newest_verified_ns = time_from(p["newest_verification"]);
        for (const auto& f : p["problems"].items()) {
            pr.status.failures.push_back({f["path"].str(), f["reason"].str()});
        }
        pr.status.missed_files = p["missed_files"].num();
        for (const auto& m : p["missed"].items()) {
            pr.status.missed.push_back(
                {m["path"].str(), time_from(m["since"]).value_or(0), m["tries"].num()});
        }
        pr.trips = p["trips_needed"].num();
        pr.last_scan_ns = time_from(p["last_scan"]);
        pr.last_load = last_from(p["last_load"]);
        pr.last_unload = last_from(p["last_unload"]);
        pr.last_verify = last_from(p["last_verify"]);
        r.pairs.push_back(std::move(pr));
    }
    return r;
}

void report_json(JsonWriter& j, const DriveReport& r) {
    j.key("running");
    if (r.running) {
        const auto& x = *r.running;
        j.begin_object();
        j.field("who", x.who);
        j.field("command", x.command);
        j.field("since", x.since);
        j.field("updated", x.updated);
        j.field("phase", x.phase);
        j.field("files", x.files);
        j.field("total_files", x.total_files);
        j.field("bytes", x.bytes);
        j.field("total_bytes", x.total_bytes);
        j.field("bytes_per_second", x.bytes_per_second);
        j.field("eta", x.eta);
        j.end_object();
    } else {
        j.null();
    }
    j.key("pairs");
    j.begin_array();
    for (const auto& p : r.pairs) {
        pair_json(j, p);
    }
    j.end_array();
    j.key("cargo");
    j.begin_object();
    j.field("used_bytes", r.used);
    j.field("free_bytes", r.free);
    j.field("capacity_bytes", r.capacity);
    j.field("pieces", r.pieces);
    j.key("reclaimable_bytes");
    if (r.reclaimable) {
        j.value(*r.reclaimable);
    } else {
        j.null();
    }
    j.end_object();
    j.key("last_runs");
    j.begin_object();
    last_json(j, "scan", r.last_scan);
    last_json(j, "load", r.last_load);
    last_json(j, "unload", r.last_unload);
    last_json(j, "verify_destination", r.last_verify_destination);
    last_json(j, "verify_middle", r.last_verify_middle);
    j.end_object();
}

std::string report_text(const DriveReport& r) {
    std::string text;
    if (r.running) {
        const auto& x = *r.running;
        text += x.command.empty() ? fmt::format("running now: {}\n  starting: ", x.who)
                                  : fmt::format("running now: {} ({})\n  {}: ", x.command, x.who,
                                                x.phase.empty() ? "starting" : x.phase);
        text += plural(x.files, "file");
        if (x.total_files) {
            text += fmt::format(" of {}", x.total_files);
        }
        text += fmt::format(", {}", format_size(static_cast<uint64_t>(x.bytes)));
        if (x.total_bytes) {
            text += fmt::format(" of {}", format_size(static_cast<uint64_t>(x.total_bytes)));
        }
        text += fmt::format(", {}/s", format_size(static_cast<uint64_t>(x.bytes_per_second)));
        if (!x.eta.empty()) {
            text += ", ETA " + x.eta;
        }
        text += fmt::format(" (as of {})\n  the counts below are as of its start ({}); the catalog "
                            "is in use\n",
                            x.updated, x.since);
    }
    text += fmt::format("drive {}: {} on the cargo ({})", escape_bytes(r.root),
                        plural(r.pieces, "piece"), format_size(r.used));
    if (!r.reclaimable) {
        text += ", what of it is delivered not counted at this size ('barge dump-cargo' counts it)";
    } else if (*r.reclaimable > 0) {
        text += fmt::format(", of which {} {} delivered: the next load reclaims {}, or now 'barge "
                            "dump-cargo'",
                            format_size(*r.reclaimable), *r.reclaimable == r.used ? "(all)" : "is",
                            *r.reclaimable == r.used ? "them" : "it");
    }
    text += fmt::format("; {} free of {}", format_size(r.free), format_size(r.capacity));
    for (const auto& p : r.pairs) {
        const PairStatus& ps = p.status;
        text += fmt::format("\n{}: {} -> {}\n  pending:   {}", p.name, escape_bytes(p.source),
                            escape_bytes(p.dest), counts_text(ps.pending));
        if (ps.unhashed) {
            text += fmt::format(" ({} not hashed yet)", ps.unhashed);
        }
        if (p.carried_elsewhere.files > 0) {
            text += fmt::format(" ({} carried by another drive)", counts_text(p.carried_elsewhere));
        }
        text += fmt::format("\n  on cargo:  {}\n  delivered: {}\n  failed:    {}",
                            counts_text(ps.on_cargo), counts_text(ps.delivered),
                            counts_text(ps.failed));
        for (const auto& f : ps.failures) {
            text += fmt::format("\n    {}: {}", escape_bytes(f.path), f.reason);
        }
        if (ps.missed_files > 0) {
            text +=
                fmt::format("\n  missed:    {} not carried since a read found {} changing",
                            plural(ps.missed_files, "file"), ps.missed_files == 1 ? "it" : "them");
            for (const auto& m : ps.missed) {
                text += fmt::format("\n    {}: since {} ({})", escape_bytes(m.rel),
                                    format_utc(m.since_ns),
                                    plural(m.tries, "read", "reads") + " found it changing");
            }
        }
        if (ps.deletions_pending) {
            text += fmt::format("\n  deletions pending: {}", ps.deletions_pending);
        }
        text += p.trips < 0 ? std::string("\n  trips to catch up: the drive has no room above the reserve")
                            : fmt::format("\n  trips to catch up: {}", p.trips);
        text += fmt::format("\n  last scan: {}",
                            p.last_scan_ns ? format_utc(*p.last_scan_ns) : std::string("never"));
        text += fmt::format("\n  last load: {}\n  last unload: {}\n  last verify-destination: {}",
                            when(p.last_load), when(p.last_unload), when(p.last_verify));
        if (p.drives.size() > 1) {
            std::string block = drives_text(p.drives);
            text += "\n  drives of the pair:";
            size_t start = 0;
            for (size_t nl; (nl = block.find('\n', start)) != std::string::npos; start = nl + 1) {
                text += "\n  " + block.substr(start, nl - start);
            }
        }
        if (ps.oldest_verified_ns) {
            text += fmt::format("\n  delivered files verified at the destination between {} and {}",
                                format_utc(*ps.oldest_verified_ns), format_utc(*ps.newest_verified_ns));
        }
    }
    if (r.pairs.empty()) {
        text += "\nno pairs yet: add one with 'barge pair add NAME SOURCE DEST'";
    }
    text += fmt::format("\nlast load: {}\nlast unload: {}\nlast verify-destination: {}\n"
                        "last verify-middle: {}",
                        when(r.last_load), when(r.last_unload), when(r.last_verify_destination),
                        when(r.last_verify_middle));
    return text;
}

std::vector<std::string> report_problems(const DriveReport& r, int64_t now, double max_age_s) {
    std::vector<std::string> out;
    auto check = [&](const PairReport& p, const char* what, const std::optional<LastRun>& run) {
        if (!run) {
            out.push_back(fmt::format("{}: no {} yet", p.name, what));
        } else if (!run->exit_code) {
            out.push_back(fmt::format("{}: the last {} ({}) did not finish", p.name, what,
                                      format_utc(run->started_ns)));
        } else if (*run->exit_code != 0) {
            out.push_back(fmt::format("{}: the last {} ({}) exited {}", p.name, what,
                                      format_utc(run->started_ns), *run->exit_code));
        } else if (static_cast<double>(now - run->started_ns) / 1e9 > max_age_s) {
            out.push_back(fmt::format("{}: the last {} is older than {} ({})", p.name, what,
                                      max_age_text(max_age_s), format_utc(run->started_ns)));
        }
    };
    for (const auto& p : r.pairs) {
        check(p, "load", p.last_load);
        check(p, "unload", p.last_unload);
        check(p, "verify-destination", p.last_verify);
        if (p.status.failed.files > 0) {
            out.push_back(fmt::format("{}: {} failed (see 'barge status {}')", p.name,
                                      plural(p.status.failed.files, "file"), p.name));
        }
        // A file that changed while read waits for a later run (SPEC §7.7); one
        // not carried for longer than max_age since is not backed up (it changes
        // at every try, or has waited since for room).
        const auto& missed = p.status.missed;
        auto over = std::count_if(missed.begin(), missed.end(), [&](const MissRow& m) {
            return static_cast<double>(now - m.since_ns) / 1e9 > max_age_s;
        });
        if (over > 0) {
            bool more = static_cast<size_t>(over) == missed.size() && p.status.missed_files > over;
            out.push_back(fmt::format(
                "{}: {}{} not carried for longer than {} since a read found {} changing (the "
                "longest since {}: '{}'; see 'barge status {}')",
                p.name, plural(over, "file"), more ? " or more" : "", max_age_text(max_age_s),
                over == 1 && !more ? "it" : "them", format_utc(missed.front().since_ns),
                escape_bytes(missed.front().rel), p.name));
        }
    }
    if (r.pairs.empty()) {
        out.push_back("this drive has no pairs");
    }
    return out;
}

std::string report_metrics(const DriveReport& r, int64_t now, double max_age_s) {
    std::string out;
    auto family = [&](const char* name, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    };
    family("barge_pair_files", "Files and symlinks of a pair, by state (pending, on_cargo, delivered, failed).");
    for (const auto& p : r.pairs) {
        for (auto [state, c] : {std::pair{"pending", p.status.pending}, std::pair{"on_cargo", p.status.on_cargo},
                                std::pair{"delivered", p.status.delivered}, std::pair{"failed", p.status.failed}}) {
            out += fmt::format("barge_pair_files{{pair=\"{}\",state=\"{}\"}} {}\n", p.name, state, c.files);
        }
    }
    family("barge_pair_bytes", "Bytes of a pair's files, by state.");
    for (const auto& p : r.pairs) {
        for (auto [state, c] : {std::pair{"pending", p.status.pending}, std::pair{"on_cargo", p.status.on_cargo},
                                std::pair{"delivered", p.status.delivered}, std::pair{"failed", p.status.failed}}) {
            out += fmt::format("barge_pair_bytes{{pair=\"{}\",state=\"{}\"}} {}\n", p.name, state, c.bytes);
        }
    }
    family("barge_pair_deletions_pending", "Files deleted at the source, not yet applied at the destination.");
    for (const auto& p : r.pairs) {
        out += fmt::format("barge_pair_deletions_pending{{pair=\"{}\"}} {}\n", p.name, p.status.deletions_pending);
    }
    family("barge_pair_missed_files",
           "Files not carried since a read found them changing (barge status lists them).");
    for (const auto& p : r.pairs) {
        out += fmt::format("barge_pair_missed_files{{pair=\"{}\"}} {}\n", p.name,
                           p.status.missed_files);
    }
    family("barge_pair_missed_since_timestamp_seconds",
           "Since when the longest missed file has been missed.");
    for (const auto& p : r.pairs) {
        if (!p.status.missed.empty()) {
            out += fmt::format("barge_pair_missed_since_timestamp_seconds{{pair=\"{}\"}} {}\n",
                               p.name, p.status.missed.front().since_ns / 1'000'000'000);
        }
    }
    family("barge_pair_trips_needed", "Trips still needed to carry what waits (-1: no room on the drive).");
    for (const auto& p : r.pairs) {
        out += fmt::format("barge_pair_trips_needed{{pair=\"{}\"}} {}\n", p.name, p.trips);
    }
    family("barge_last_run_timestamp_seconds", "When the pair's last load, unload or verify-destination started.");
    family("barge_last_run_exit_code", "The exit code of that run (-1: it did not finish).");
    std::string ts, codes;
    for (const auto& p : r.pairs) {
        for (auto [what, run] : {std::pair{"load", &p.last_load}, std::pair{"unload", &p.last_unload},
                                 std::pair{"verify", &p.last_verify}}) {
            if (!*run) {
                continue;
            }
            ts += fmt::format("barge_last_run_timestamp_seconds{{pair=\"{}\",run=\"{}\"}} {}\n", p.name,
                              what, (*run)->started_ns / 1'000'000'000);
            codes += fmt::format("barge_last_run_exit_code{{pair=\"{}\",run=\"{}\"}} {}\n", p.name, what,
                                 (*run)->exit_code.value_or(-1));
        }
    }
    out += ts + codes;
    family("barge_cargo_bytes", "Bytes on the cargo (used: every piece; reclaimable: delivered pieces).");
    out += fmt::format("barge_cargo_bytes{{kind=\"used\"}} {}\n", r.used);
    if (r.reclaimable) { // not counted at this size: no sample rather than a wrong one
        out += fmt::format("barge_cargo_bytes{{kind=\"reclaimable\"}} {}\n", *r.reclaimable);
    }
    family("barge_drive_free_bytes", "Free space on the drive's file system.");
    out += fmt::format("barge_drive_free_bytes {}\n", r.free);
    family("barge_running", "1 while a barge works on this drive.");
    out += fmt::format("barge_running {}\n", r.running ? 1 : 0);
    family("barge_check_ok", "1 when 'barge status --check' (with its --max-age) finds no problem.");
    out += fmt::format("barge_check_ok {}\n", report_problems(r, now, max_age_s).empty() ? 1 : 0);
    return out;
}

} // namespace barge::cli
