#pragma once

#include "barge/catalog/catalog.hpp"
#include "barge/engine/progress.hpp"
#include "barge/engine/scan.hpp"

namespace barge {

// The hashing half of `barge scan`: hashes the pair's files that have no content
// yet (or a racy one) on two threads, refusing a file that changed while it was
// read (SPEC §7.7), and records the contents. Stops at the deadline or a stop
// request; the next scan continues where it stopped.
void hash_phase(Catalog& catalog, const Pair& pair, ScanResult& result, double deadline,
                Progress* progress);

} // namespace barge
