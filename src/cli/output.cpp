#include "barge/cli/output.hpp"

#include "barge/cli/progress.hpp"
#include "barge/engine/status.hpp"

#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <cstdio>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

namespace barge::cli {

namespace {

// Lines of the text of a summary (problems, a plan) are many: the text so far
// goes to stdout once it holds this much, and is emptied (say() prints the rest).
constexpr size_t text_chunk = 64 * 1024;

void text_out(const Globals& g, std::string& text) {
    say_part(g, text);
    text.clear();
}

// The problems as lines ("\n  label: path: reason") after the text so far;
// nothing when g says that text is not printed (say(): JSON, -q).
void problem_lines(const Globals& g, std::string& text, const Problems& problems, const char* label) {
    if (g.json || g.quiet) {
        return;
    }
    problems.each([&](const FileProblem& p) {
        text += fmt::format("\n  {}: {}: {}", label, escape_bytes(p.path), p.reason);
        if (text.size() >= text_chunk) {
            text_out(g, text);
        }
    });
}

// The notes as lines ("\n  note: text"), the same way.
void note_lines(const Globals& g, std::string& text, const Notes& notes) {
    if (g.json || g.quiet) {
        return;
    }
    notes.each([&](const std::string& n) {
        text += "\n  note: " + n;
        if (text.size() >= text_chunk) {
            text_out(g, text);
        }
    });
}

} // namespace

std::string scan_result_text(const Globals& g, std::string text, const std::string& pair,
                             const ScanResult& r) {
    text += fmt::format("{}: {} new, {} modified, {} deleted, {} renamed, {} unchanged", pair,
                        r.new_files, r.modified, r.deleted, r.renamed, r.unchanged);
    if (r.new_dirs || r.deleted_dirs) {
        text += fmt::format("; directories: {} new, {} deleted", r.new_dirs, r.deleted_dirs);
    }
    if (r.files_hashed) {
        text += fmt::format("; hashed {} ({})", plural(r.files_hashed, "file"),
                            format_size(static_cast<uint64_t>(r.bytes_hashed)));
    }
    if (r.stopped_early) {
        text += fmt::format("; stopped early, {} still to hash (the next scan continues)",
                            plural(r.left_to_hash, "file"));
    }
    note_lines(g, text, r.notes);
    problem_lines(g, text, r.problems, "failed");
    return text;
}

void time_json(JsonWriter& j, const char* key, const std::optional<int64_t>& ns) {
    j.key(key);
    if (ns) {
        j.value(format_utc(*ns));
    } else {
        j.null();
    }
}

void failures_if_quiet(const Globals& g, const Problems& problems) {
    if (!g.quiet || g.json) {
        return;
    }
    problems.each([](const FileProblem& p) { spdlog::error("'{}': {}", escape_bytes(p.path), p.reason); });
}

namespace {

void item_json(JsonWriter& j, const FileProblem& p) {
    j.begin_object();
    j.field("path", p.path);
    j.field("reason", p.reason);
    j.end_object();
}

void item_json(JsonWriter& j, const std::string& note) { j.value(note); }

template <typename T>
void items_array(JsonWriter& j, const std::vector<T>& items) {
    j.begin_array();
    for (const auto& item : items) {
        item_json(j, item);
    }
    j.end_array();
}

// items as the array at key.
template <typename T>
void spooled_json(JsonWriter& j, const char* key, const Spooled<T>& items) {
    j.key(key);
    if (items.size() <= Spooled<T>::held) {
        items_array(j, items.first()); // all of them
        return;
    }
    // Printed whole, read back from the spool as the document is printed; the
    // run's recorded summary keeps the first ones (the runs table counts the
    // problems). One copy, shared by both forms (the result is gone when the
    // document is printed): past the first ones it holds the file, or the
    // items kept in memory where the file could not be written.
    auto kept = std::make_shared<const Spooled<T>>(items);
    j.value_later(
        [kept](JsonWriter& w) {
            w.begin_array();
            kept->each([&](const T& item) { item_json(w, item); });
            w.end_array();
        },
        [kept](JsonWriter& w) { items_array(w, kept->first()); });
}

} // namespace

void problems_json(JsonWriter& j, const std::vector<FileProblem>& problems) {
    j.key("problems");
    items_array(j, problems);
}

void problems_json(JsonWriter& j, const Problems& problems) { spooled_json(j, "problems", problems); }

void notes_json(JsonWriter& j, const Notes& notes) { spooled_json(j, "notes", notes); }

void scan_result_json(JsonWriter& j, const ScanResult& r) {
    j.field("new", r.new_files);
    j.field("modified", r.modified);
    j.field("deleted", r.deleted);
    j.field("renamed", r.renamed);
    j.field("unchanged", r.unchanged);
    j.field("new_dirs", r.new_dirs);
    j.field("deleted_dirs", r.deleted_dirs);
    j.field("excluded", r.excluded);
    j.field("special_skipped", r.special_skipped);
    j.field("files_hashed", r.files_hashed);
    j.field("bytes_hashed", r.bytes_hashed);
    j.field("left_to_hash", r.left_to_hash);
    j.field("stopped_early", r.stopped_early);
    problems_json(j, r.problems);
    notes_json(j, r.notes);
}


namespace {

// The plan's lines go straight to stdout after what text holds so far (which is
// printed first and emptied): a plan of millions of lines is never one string.
void plan_text(const Globals& g, std::string& text, const Plan& plan) {
    if (g.json || g.quiet || plan.empty()) {
        return;
    }
    plan.each([&](const PlanLine& l) {
        text += fmt::format("\n  {} {} ({}){}", l.goes ? "goes: " : "stays:", escape_bytes(l.path),
                            format_size(static_cast<uint64_t>(l.bytes)), l.why.empty() ? "" : ": " + l.why);
        if (text.size() >= text_chunk) {
            text_out(g, text);
        }
    });
}

// Written as the document is printed, read back from the plan's file: a plan of
// millions of lines is never one string (SPEC §8).
void plan_json(JsonWriter& j, const Plan& plan) {
    j.key("plan");
    j.value_later([plan](JsonWriter& w) {
        w.begin_array();
        plan.each([&](const PlanLine& l) {
            w.begin_object();
            w.field("path", l.path);
            w.field("bytes", l.bytes);
            w.field("goes", l.goes);
            w.field("why", l.why);
            w.end_object();
        });
        w.end_array();
    });
}

} // namespace

std::string load_result_text(const Globals& g, const std::string& pair, const LoadResult& r, int64_t trip_room) {
    std::string text;
    // Without the scan's line, its notes and problems are listed with the load's.
    bool scan_said = r.files != 0 || r.dry_run;
    if (scan_said) {
        text = scan_result_text(g, "", pair, r.scan) + "\n" + fmt::format("{}: ", pair);
    } else {
        text = fmt::format("{}: ", pair);
    }
    if (r.dry_run) {
        text += fmt::format("dry run: {} ({}) would go, {} would stay (nothing was changed)",
                            plural(r.plan.goes(), "file"), format_size(static_cast<uint64_t>(r.plan.go_bytes())),
                            r.plan.size() - r.plan.goes());
        plan_text(g, text, r.plan);
    } else {
        if (r.interrupted) {
            text += fmt::format("interrupted by {} before the end: ", stop_signal_name());
        }
        text += fmt::format("carried {} ({}) in {}", plural(r.files, "file"),
                            format_size(static_cast<uint64_t>(r.bytes)), plural(r.pieces, "piece"));
        if (r.deduplicated) {
            text += fmt::format("; {} already on the cargo", r.deduplicated);
        }
        if (r.at_destination) {
            text += fmt::format("; {} already at the destination (renamed or copied there by unload)",
                                r.at_destination);
        }
        if (r.carried_elsewhere) {
            text += fmt::format("\n  {} ({}) left to another drive of the pair, which carries them",
                                plural(r.carried_elsewhere, "file"),
                                format_size(static_cast<uint64_t>(r.carried_elsewhere_bytes)));
        }
    }
    if (r.waiting_files > 0) {
        int64_t trips = trips_needed(r.waiting_bytes, trip_room);
        text += fmt::format("\n  {}{} ({}) still waiting at the source",
                            r.drive_full ? "drive full: " : r.max_bytes_reached ? "--max-bytes reached: " : "",
                            plural(r.waiting_files, "file"), format_size(static_cast<uint64_t>(r.waiting_bytes)));
        if (trips > 0) {
            text += fmt::format(", about {} more", plural(trips, "trip"));
        }
        if (r.reserve_too_big) {
            text += fmt::format("\n  the reserve leaves no room on this drive ({}): lower it with "
                                "'barge pair set {} --reserve SIZE'",
                                r.room, pair);
        } else if (r.drive_full) {
            text += fmt::format("\n  room on the drive: {}", r.room);
        }
    } else if (r.plan.empty()) {
        text += "\n  nothing else waits at the source";
    }
    if (r.requeued_pieces) {
        text += fmt::format("\n  {} the catalog put on the cargo {} missing and {} queued again",
                            plural(r.requeued_pieces, "piece"), r.requeued_pieces == 1 ? "was" : "were",
                            r.requeued_pieces == 1 ? "is" : "are");
    }
    if (r.reclaimed_pieces) {
        text += fmt::format("\n  reclaimed {} ({})", plural(r.reclaimed_pieces, "delivered piece"),
                            format_size(static_cast<uint64_t>(r.reclaimed_bytes)));
    }
    if (!scan_said) {
        note_lines(g, text, r.scan.notes);
    }
    note_lines(g, text, r.notes);
    if (!scan_said) {
        problem_lines(g, text, r.scan.problems, "failed");
    }
    problem_lines(g, text, r.failures, "failed");
    return text;
}

void load_result_json(JsonWriter& j, const LoadResult& r, bool with_plan) {
    j.key("scan");
    j.begin_object();
    scan_result_json(j, r.scan);
    j.end_object();
    j.key("carried");
    j.begin_object();
    j.field("files", r.files);
    j.field("bytes", r.bytes);
    j.field("pieces", r.pieces);
    j.end_object();
    j.field("deduplicated", r.deduplicated);
    j.field("at_destination", r.at_destination);
    j.key("carried_elsewhere");
    j.begin_object();
    j.field("files", r.carried_elsewhere);
    j.field("bytes", r.carried_elsewhere_bytes);
    j.end_object();
    j.field("learned", r.learned);
    j.key("waiting");
    j.begin_object();
    j.field("files", r.waiting_files);
    j.field("bytes", r.waiting_bytes);
    j.end_object();
    j.field("drive_full", r.drive_full);
    j.field("max_bytes_reached", r.max_bytes_reached);
    j.field("interrupted", r.interrupted);
    j.field("dry_run", r.dry_run);
    j.field("room", r.room);
    j.field("requeued_pieces", r.requeued_pieces);
    j.key("reclaimed");
    j.begin_object();
    j.field("pieces", r.reclaimed_pieces);
    j.field("bytes", r.reclaimed_bytes);
    j.end_object();
    problems_json(j, r.failures);
    notes_json(j, r.notes);
    if (with_plan) {
        plan_json(j, r.plan);
    }
}

std::string unload_result_text(const Globals& g, const std::string& pair, const UnloadResult& r) {
    std::string text = fmt::format("{}: ", pair);
    if (r.claimed) {
        text += "claimed the destination; ";
    }
    if (!r.plan.empty() || r.dry_run) {
        text += fmt::format("dry run: {} (nothing was changed)",
                            plural(r.plan.size(), "entry", "entries"));
        plan_text(g, text, r.plan);
        note_lines(g, text, r.notes);
        problem_lines(g, text, r.failures, "failed");
        return text;
    }
    if (r.interrupted) {
        text += fmt::format("interrupted by {} before the end: ", stop_signal_name());
    }
    text += fmt::format("delivered {} ({}), {}, {}", plural(r.files, "file"),
                        format_size(static_cast<uint64_t>(r.bytes)), plural(r.symlinks, "symlink"),
                        plural(r.dirs, "directory", "directories"));
    if (r.special_files) {
        text += fmt::format(", {} (FIFOs, devices)", plural(r.special_files, "special file"));
    }
    if (r.renamed_dirs) {
        text += fmt::format("; {} renamed or moved there", plural(r.renamed_dirs, "directory", "directories"));
    }
    if (r.renamed) {
        text += fmt::format("; {} renamed or moved there (no bytes copied)", plural(r.renamed, "file"));
    }
    if (r.hard_links) {
        text += fmt::format("; {}", plural(r.hard_links, "hard link"));
    }
    if (r.local_copies) {
        text += fmt::format("; {} copied from the destination's own copy", r.local_copies);
    }
    if (r.already_there) {
        text += fmt::format("; {} already in place", r.already_there);
    }
    if (r.trashed || r.forgotten) {
        text += fmt::format("\n  deletions: {} moved to trash, {} kept", r.trashed, r.forgotten);
    }
    if (r.versions) {
        if (r.versions > r.superseded) {
            text += fmt::format("\n  {} kept in .barge/versions",
                                plural(r.versions - r.superseded, "replaced file"));
        }
    }
    if (r.superseded) {
        text += fmt::format("\n  {} older than what another drive of the pair delivered there: "
                            "kept in .barge/versions, the newer left in place",
                            plural(r.superseded, "file"));
    }
    if (r.staged_pieces) {
        text += fmt::format("\n  {} of large files assembled in .barge/staging",
                            plural(r.staged_pieces, "piece"));
    }
    if (r.waiting) {
        text += fmt::format("\n  {} not (all) on the cargo yet: {} with a later trip",
                            plural(r.waiting, "file is", "files are"), r.waiting == 1 ? "it comes" : "they come");
    }
    if (r.pruned) {
        text += fmt::format("\n  pruned {} past their retention",
                            plural(r.pruned, "trash or version folder"));
    }
    note_lines(g, text, r.notes);
    problem_lines(g, text, r.failures, "failed");
    return text;
}

void unload_result_json(JsonWriter& j, const UnloadResult& r, bool with_plan) {
    j.field("claimed", r.claimed);
    j.field("interrupted", r.interrupted);
    j.field("dry_run", r.dry_run);
    j.key("delivered");
    j.begin_object();
    j.field("files", r.files);
    j.field("bytes", r.bytes);
    j.field("symlinks", r.symlinks);
    j.field("special_files", r.special_files);
    j.field("dirs", r.dirs);
    j.field("renamed", r.renamed);
    j.field("renamed_dirs", r.renamed_dirs);
    j.field("hard_links", r.hard_links);
    j.field("local_copies", r.local_copies);
    j.field("already_there", r.already_there);
    j.end_object();
    j.field("trashed", r.trashed);
    j.field("deletions_kept", r.forgotten);
    j.field("versions", r.versions);
    j.field("superseded", r.superseded);
    j.field("learned", r.learned);
    j.field("staged_pieces", r.staged_pieces);
    j.field("corrupt_pieces", r.corrupt_pieces);
    j.field("waiting", r.waiting);
    j.field("pruned", r.pruned);
    problems_json(j, r.failures);
    notes_json(j, r.notes);
    if (with_plan) {
        plan_json(j, r.plan);
    }
}

void verify_json(JsonWriter& j, const VerifyResult& r) {
    j.field("dry_run", r.dry_run);
    j.field("would_check", r.would_check);
    j.field("would_bytes", r.would_bytes);
    j.field("checked", r.checked);
    j.field("bytes", r.bytes);
    j.field("bad", r.bad);
    j.field("left", r.left);
    j.field("stopped_early", r.stopped_early);
    problems_json(j, r.problems);
}

std::string verify_text(const Globals& g, const std::string& what, const VerifyResult& r) {
    if (r.dry_run) {
        return fmt::format("{}: dry run: would verify {} ({}), reading them from the medium; "
                           "nothing was read or changed",
                           what, plural(r.would_check, "item"),
                           format_size(static_cast<uint64_t>(r.would_bytes)));
    }
    std::string text = fmt::format("{}: verified {} ({}), {} bad", what, r.checked,
                                   format_size(static_cast<uint64_t>(r.bytes)), r.bad);
    if (r.left > 0) {
        text += fmt::format("; {} left for a later run", r.left);
    }
    problem_lines(g, text, r.problems, "BAD");
    return text;
}

void cargo_json(JsonWriter& j, Catalog& catalog, const DriveLayout& layout) {
    CargoStatus cs = cargo_status(catalog, layout);
    j.key("cargo");
    j.begin_object();
    j.field("used_bytes", cs.used_bytes);
    j.field("free_bytes", cs.free_bytes);
    j.end_object();
}

} // namespace barge::cli
