#pragma once

#include "barge/catalog/page_codec.hpp"
#include "barge/catalog/page_map.hpp"
#include "barge/util/error.hpp"

#include <cstdint>
#include <string>

namespace barge {

// The copies of the drive's catalog that barge keeps at each endpoint it visits
// (ROOT/.barge/catalog-<drive id>.db), from which `barge recover` rebuilds a lost
// or damaged drive (docs/recovery.md). A copy is the catalog file byte for byte
// (so its pages keep their checksums, or their encryption), as of the end of a
// run. Beside it, COPY.state says which step of the drive's page map it holds; the
// next update copies only the pages written since (docs/catalog.md).
//
// An update never leaves a copy half old, half new: the changed pages are first
// written to COPY.patch (synced, then renamed into place), then into the copy,
// which is synced before COPY.state moves on and the patch is removed. A patch
// found complete is applied again (settle); an incomplete one was never begun.
// A page of the catalog that fails its checksum while being copied.
class DamagedPage : public CatalogError {
public:
    using CatalogError::CatalogError;
};

struct ReplicaUpdate {
    bool whole = false;       // the copy was made whole (no usable state, or most pages changed)
    uint64_t pages = 0;       // pages written into the copy
    uint64_t bytes_written = 0; // to the endpoint, patch included
};

// Brings the copy at copy_path up to date with the catalog at db_path, described by
// map (sealed: no write of the catalog since). Call it with no transaction open.
// cipher: an encrypted catalog's (every page copied is authenticated first, as a
// checksummed page's checksum is checked), null otherwise.
ReplicaUpdate update_replica(const std::string& db_path, const PageMap& map,
                             const std::string& copy_path, const PageCipher* cipher = nullptr);

// The file beside a copy that says which state of the catalog it holds.
std::string replica_state_path(const std::string& copy_path);

// Copies the database file at from to to, byte for byte, through a synced temporary
// file renamed into place; returns the bytes copied. Nothing may be writing from.
// With page_size, every page with a checksum is checked on the way: a damaged
// page throws CatalogError and the copy at to stays as it was.
// With cipher (an encrypted catalog), every page must authenticate instead.
uint64_t copy_database_file(const std::string& from, const std::string& to, uint32_t page_size = 0,
                            const PageCipher* cipher = nullptr);

// Finishes an update of the copy at copy_path that was interrupted (see above).
// Does nothing when none was.
void settle_replica(const std::string& copy_path);

} // namespace barge
