#include "barge/engine/status.hpp"

#include "barge/fs/space.hpp"
#include "barge/util/size.hpp"

#include <fmt/format.h>
#include "barge/util/text.hpp"

namespace barge {

PairStatus pair_status(Catalog& catalog, const Pair& pair, size_t max_failures) {
    StatusStore store(catalog.db());
    PairStatus ps;
    static_cast<PairCounts&>(ps) = store.pair_counts(pair.id);
    if (max_failures > 0) {
        for (auto& f : store.failures(pair.id, max_failures)) {
            ps.failures.push_back({std::move(f.rel), std::move(f.reason)});
        }
        ps.missed = store.missed(pair.id, max_failures);
        ps.missed_files = store.missed_files(pair.id);
    }
    return ps;
}

CargoStatus cargo_status(Catalog& catalog, const DriveLayout& layout) {
    CargoStatus cs;
    Counts c = StatusStore(catalog.db()).cargo();
    cs.pieces = c.files;
    cs.used_bytes = static_cast<uint64_t>(c.bytes);
    Space sp = fs_space(layout.cargo());
    cs.free_bytes = sp.available;
    cs.capacity_bytes = sp.capacity;
    return cs;
}

std::string DriveRoom::explain() const {
    return fmt::format("{} free of {}, less the reserve of {} and {} kept for the catalog",
                       format_size(free), format_size(capacity), format_size(reserve),
                       format_size(static_cast<uint64_t>(catalog_margin)));
}

DriveRoom drive_room(const DriveLayout& layout, const Pair& pair) {
    Space sp = fs_space(layout.cargo());
    return {sp.capacity, sp.available, pair.reserve.resolve(sp.capacity)};
}

std::optional<std::string> reserve_warning(const DriveLayout& layout, const Pair& pair) {
    DriveRoom r = drive_room(layout, pair);
    if (r.reserve_too_big()) {
        return fmt::format("pair '{}': the reserve of {} leaves no room on this drive (capacity {}): "
                           "nothing can be loaded; lower it, e.g. 'barge pair set {} --reserve 5%'",
                           pair.name, format_size(r.reserve), format_size(r.capacity), pair.name);
    }
    if (r.room() <= 0) {
        return fmt::format("pair '{}': the drive has no room left above the reserve now ({})",
                           pair.name, r.explain());
    }
    return std::nullopt;
}

int64_t trips_needed(int64_t bytes, int64_t room) {
    if (bytes <= 0) {
        return 0;
    }
    if (room <= 0) {
        return -1; // cannot be carried on this drive as it is
    }
    return (bytes + room - 1) / room;
}

} // namespace barge
