#include "barge/cli/drive_view.hpp"

#include "barge/cli/output.hpp"
#include "barge/engine/rotation.hpp"
#include "barge/engine/status.hpp"
#include "barge/fs/marker.hpp"
#include "barge/util/size.hpp"
#include "barge/util/text.hpp"
#include "barge/util/time.hpp"

#include <fmt/format.h>

namespace barge::cli {

std::vector<DriveView> drive_views(Catalog& catalog, const Pair& pair, const Counts& on_cargo) {
    std::vector<DriveView> out;
    DriveView self;
    self.id = catalog.drive_id();
    self.label = catalog.meta("label").value_or("");
    self.this_drive = true;
    self.carries_files = on_cargo.files;
    self.carries_bytes = on_cargo.bytes;
    self.source_seen_ns = pair.source_seen_ns;
    self.dest_seen_ns = pair.dest_seen_ns;
    self.generation = catalog.generation();
    self.knowledge = "current";
    out.push_back(self);
    // The endpoints visible here: what they recorded of each drive.
    std::vector<std::pair<std::string, Role>> ends;
    if (pair.source_marker && has_marker(pair.source, pair.uuid, Role::source)) {
        ends.emplace_back(pair.source, Role::source);
    }
    if (has_marker(pair.dest, pair.uuid, Role::dest)) {
        ends.emplace_back(pair.dest, Role::dest);
    }
    for (const auto& d : known_drives(catalog.db(), pair.id)) {
        DriveView v;
        v.id = d.drive_id;
        v.label = d.label;
        v.carries_files = d.lost_ns ? 0 : d.carries_files;
        v.carries_bytes = d.lost_ns ? 0 : d.carries_bytes;
        v.source_seen_ns = d.source_seen_ns;
        v.dest_seen_ns = d.dest_seen_ns;
        v.lost_ns = d.lost_ns;
        v.generation = d.generation;
        v.knowledge = ends.empty() ? "unknown" : "current";
        for (const auto& [root, role] : ends) {
            auto seen = read_seen_generation(root, d.drive_id);
            if (seen && *seen > d.generation) {
                v.knowledge = "stale";
                v.stale_at = root;
            }
        }
        out.push_back(std::move(v));
    }
    return out;
}

void drives_json(JsonWriter& j, const std::vector<DriveView>& drives) {
    j.key("drives");
    j.begin_array();
    for (const auto& d : drives) {
        j.begin_object();
        j.field("id", d.id);
        j.field("label", d.label);
        j.field("this_drive", d.this_drive);
        j.key("carries");
        j.begin_object();
        j.field("files", d.carries_files);
        j.field("bytes", d.carries_bytes);
        j.end_object();
        time_json(j, "source_seen", d.source_seen_ns);
        time_json(j, "dest_seen", d.dest_seen_ns);
        j.field("lost", d.lost_ns.has_value());
        time_json(j, "lost_at", d.lost_ns);
        j.field("generation", d.generation);
        j.field("knowledge", d.knowledge);
        j.end_object();
    }
    j.end_array();
}

std::string drives_text(const std::vector<DriveView>& drives) {
    std::string text;
    auto when = [](const std::optional<int64_t>& ns) { return ns ? format_utc(*ns) : std::string("never"); };
    for (const auto& d : drives) {
        std::string name = d.id + (d.label.empty() ? "" : " (" + d.label + ")");
        text += fmt::format("  drive {}{}: ", name, d.this_drive ? ", this drive" : "");
        if (d.lost_ns) {
            text += fmt::format("declared lost {}; ", format_utc(*d.lost_ns));
        }
        text += fmt::format("carries {} ({}); last seen at the source {}, at the destination {}",
                            plural(d.carries_files, "file"),
                            format_size(static_cast<uint64_t>(d.carries_bytes)),
                            when(d.source_seen_ns), when(d.dest_seen_ns));
        if (d.knowledge == "stale") {
            text += fmt::format("; not current: it ran at '{}' since (its next visit or a copy "
                                "there updates it)",
                                escape_bytes(d.stale_at));
        } else if (d.knowledge == "unknown" && !d.this_drive) {
            text += "; as last learned (no endpoint of the pair is visible here)";
        }
        text += "\n";
    }
    return text;
}

} // namespace barge::cli
