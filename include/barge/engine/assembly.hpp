#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/catalog/transit.hpp"
#include "barge/engine/cargo.hpp"
#include "barge/engine/destination.hpp"
#include "barge/engine/error_sink.hpp"
#include "barge/fs/medium.hpp"
#include "barge/hash/blake2b.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace barge {

class HashPipeline;

// What the assembly of multi-trip files did in one unload.
struct AssemblyCounts {
    int64_t staged_pieces = 0; // pieces appended this run
    int64_t waiting = 0;       // files still missing pieces
};

// Multi-trip files (SPEC §3): a file larger than a whole trip is assembled in
// DEST/.barge/staging/<hash>.part, piece by piece as its pieces arrive over
// several trips. Each appended piece is re-hashed as it is read from the cargo,
// synced, and recorded (staged rows), so the cargo can reclaim it; the file takes
// its name only once complete and verified as a whole (by the transfer pipeline).
class Assembler {
public:
    // room_for(bytes): whether the destination holds that much more above its reserve.
    Assembler(Catalog& catalog, const Pair& pair, Cargo& cargo, Destination& dest,
              HashPipeline& pipe, ErrorSink& sink, AssemblyCounts& counts,
              Notes& notes, std::function<bool(int64_t)> room_for);

    // Appends d's pieces that are on the cargo and not staged yet. Returns the
    // complete assembly file (metadata set, ready for verification), or nothing
    // when pieces are still to come (a note) or the file failed (reported to the
    // sink). Throws CorruptPiece for a piece that does not match its hash.
    std::optional<TempFile> assemble(const DeliveryItem& d, const Digest& hash, int64_t pieces);
    // Forgets what was staged for d's content: its pieces will be carried again.
    void forget(const DeliveryItem& d);
    // The assembly file's name in the staging directory.
    static std::string part_name(const Digest& hash);

private:
    Catalog& m_catalog;
    TransitStore m_store;
    const Pair& m_pair;
    Cargo& m_cargo;
    Destination& m_dest;
    HashPipeline& m_pipe;
    ErrorSink& m_sink;
    AssemblyCounts& m_counts;
    Notes& m_notes;
    std::function<bool(int64_t)> m_room_for;
    int64_t m_piece_size;
};

} // namespace barge
