#include "barge/cli/commands.hpp"
#include "barge/cli/output.hpp"
#include "barge/engine/status.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace barge::cli {

namespace {

void counts_json(JsonWriter& j, const char* key, const Counts& c) {
    j.key(key);
    j.begin_object();
    j.field("files", c.files);
    j.field("bytes", c.bytes);
    j.end_object();
}

std::string counts_text(const Counts& c) {
    return fmt::format("{} files, {}", c.files, format_size(static_cast<uint64_t>(c.bytes)));
}

std::string when(const std::optional<RunRecord>& r) {
    if (!r) {
        return "never";
    }
    std::string s = fmt::format("{} on {}", format_utc(r->started_ns), r->host);
    if (r->exit_code) {
        s += fmt::format(" (exit {}, {} files, {})", *r->exit_code, r->files,
                         format_size(static_cast<uint64_t>(r->bytes)));
    } else {
        s += " (did not finish)";
    }
    return s;
}

void run_json(JsonWriter& j, const char* key, const std::optional<RunRecord>& r) {
    j.key(key);
    if (!r) {
        j.null();
        return;
    }
    j.begin_object();
    j.field("time", format_utc(r->started_ns));
    j.field("host", r->host);
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


ExitCode run_status(const Globals& g, const std::vector<std::string>& names) {
    Session s(g, "status", DriveLock::Mode::shared);
    auto pairs = s.select_pairs(names);
    CargoStatus cargo = cargo_status(s.catalog(), s.layout());
    std::optional<RunRecord> last[] = {s.catalog().last_run("scan"), s.catalog().last_run("load"),
                                       s.catalog().last_run("unload"),
                                       s.catalog().last_run("verify-destination"),
                                       s.catalog().last_run("verify-middle")};
    JsonWriter j;
    j.begin_object();
    j.key("pairs");
    j.begin_array();
    std::string text = fmt::format("drive {}: {} pieces, {} on the cargo; {} free of {}",
                                   escape_bytes(s.layout().root), cargo.pieces,
                                   format_size(cargo.used_bytes), format_size(cargo.free_bytes),
                                   format_size(cargo.capacity_bytes));
    for (const auto& p : pairs) {
        PairStatus ps = pair_status(s.catalog(), p);
        int64_t room = static_cast<int64_t>(cargo.free_bytes + cargo.used_bytes) -
                       static_cast<int64_t>(p.reserve.resolve(cargo.capacity_bytes));
        int64_t trips = trips_needed(ps.pending.bytes + ps.failed.bytes, room);
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
        j.field("trips_needed", trips);
        time_json(j, "last_scan", p.last_scan_ns);
        time_json(j, "oldest_verification", ps.oldest_verified_ns);
        time_json(j, "newest_verification", ps.newest_verified_ns);
        problems_json(j, ps.failures);
        j.end_object();
        text += fmt::format("\n{}: {} -> {}\n  pending:   {}", p.name, escape_bytes(p.source),
                            escape_bytes(p.dest), counts_text(ps.pending));
        if (ps.unhashed) {
            text += fmt::format(" ({} not hashed yet)", ps.unhashed);
        }
        text += fmt::format("\n  on cargo:  {}\n  delivered: {}\n  failed:    {}",
                            counts_text(ps.on_cargo), counts_text(ps.delivered),
                            counts_text(ps.failed));
        for (const auto& f : ps.failures) {
            text += fmt::format("\n    {}: {}", escape_bytes(f.path), f.reason);
        }
        if (ps.deletions_pending) {
            text += fmt::format("\n  deletions pending: {}", ps.deletions_pending);
        }
        text += trips < 0 ? std::string("\n  trips to catch up: the drive has no room above the reserve")
                          : fmt::format("\n  trips to catch up: {}", trips);
        text += fmt::format("\n  last scan: {}",
                            p.last_scan_ns ? format_utc(*p.last_scan_ns) : std::string("never"));
        if (ps.oldest_verified_ns) {
            text += fmt::format("\n  delivered files verified at the destination between {} and {}",
                                format_utc(*ps.oldest_verified_ns), format_utc(*ps.newest_verified_ns));
        }
    }
    j.end_array();
    j.key("cargo");
    j.begin_object();
    j.field("used_bytes", cargo.used_bytes);
    j.field("free_bytes", cargo.free_bytes);
    j.field("capacity_bytes", cargo.capacity_bytes);
    j.field("pieces", cargo.pieces);
    j.end_object();
    j.key("last_runs");
    j.begin_object();
    run_json(j, "scan", last[0]);
    run_json(j, "load", last[1]);
    run_json(j, "unload", last[2]);
    run_json(j, "verify_destination", last[3]);
    run_json(j, "verify_middle", last[4]);
    j.end_object();
    j.end_object();
    text += fmt::format("\nlast load: {}\nlast unload: {}\nlast verify-destination: {}\n"
                        "last verify-middle: {}",
                        when(last[1]), when(last[2]), when(last[3]), when(last[4]));
    if (g.json) {
        print_json(j);
    } else {
        say(g, text);
    }
    return ExitCode::ok;
}

} // namespace

void add_status(CLI::App& app, Globals& g, Action& action) {
    auto names = std::make_shared<std::vector<std::string>>();
    auto* sub = app.add_subcommand("status", "per pair: what waits at the source, what is on the "
                                             "cargo, what was delivered or failed; the cargo");
    sub->add_option("PAIR", *names, "pairs to show (default: all)");
    sub->footer("Example: barge status --json");
    sub->callback([&g, &action, names] { action = [&g, names] { return run_status(g, *names); }; });
}

} // namespace barge::cli
