#include "barge/engine/assembly.hpp"

#include "barge/hash/pipeline.hpp"
#include "barge/util/text.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <set>

namespace barge {

Assembler::Assembler(Catalog& catalog, const Pair& pair, Cargo& cargo, Destination& dest,
                     HashPipeline& pipe, ErrorSink& sink, AssemblyCounts& counts,
                     Notes& notes, std::function<bool(int64_t)> room_for)
    : m_catalog(catalog), m_store(catalog.db()), m_pair(pair), m_cargo(cargo), m_dest(dest),
      m_pipe(pipe), m_sink(sink), m_counts(counts), m_notes(notes), m_room_for(std::move(room_for)),
      m_piece_size(static_cast<int64_t>(catalog.piece_size())) {}

std::string Assembler::part_name(const Digest& hash) {
    return digest_hex(hash) + ".part";
}

std::optional<TempFile> Assembler::assemble(const DeliveryItem& d, const Digest& hash, int64_t pieces) {
    ContentOnCargo here = m_store.on_cargo(m_pair.id, *d.content_id, pieces);
    int64_t missing_room = 0;
    for (int64_t i = 0; i < pieces; ++i) {
        if (!here.staged[static_cast<size_t>(i)]) {
            missing_room += std::min(m_piece_size, d.st.size - i * m_piece_size);
        }
    }
    if (!m_room_for(missing_room)) {
        m_sink.fail(d.entry_id, m_dest.display(d.rel()),
                    "the destination is full (its reserve would be used); it stays on the cargo");
        return std::nullopt;
    }
    TempFile out = m_dest.staging().open_kept(part_name(hash), 0600);
    int64_t staged = 0;
    for (int64_t i = 0; i < pieces; ++i) {
        auto k = static_cast<size_t>(i);
        if (here.staged[k]) {
            ++staged;
            continue;
        }
        if (!here.cargo[k]) {
            continue; // not carried yet: a later trip brings it
        }
        // A corrupt piece throws before it is recorded: what it wrote is
        // overwritten when a good copy arrives.
        m_cargo.copy_piece(*here.cargo[k], m_pipe, out, i * m_piece_size);
        out.sync();
        Transaction tx(m_catalog.db());
        m_store.record_staged(m_pair.id, *d.content_id, i);
        tx.commit();
        ++staged;
        ++m_counts.staged_pieces;
    }
    if (staged < pieces) {
        out.keep();
        ++m_counts.waiting;
        m_notes.push_back(fmt::format("'{}': {} of {} pieces assembled; the rest comes on later trips",
                                      escape_bytes(m_dest.display(d.rel())), staged, pieces));
        return std::nullopt;
    }
    out.truncate(d.st.size);
    m_dest.apply_metadata(out.fd(), d.st, out.display());
    out.finish();
    return out;
}

void Assembler::forget(const DeliveryItem& d) {
    Transaction tx(m_catalog.db());
    m_store.clear_staged(m_pair.id, *d.content_id);
    tx.commit();
}

} // namespace barge
