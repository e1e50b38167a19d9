#include "barge/engine/progress.hpp"

#include <atomic>

namespace barge {

namespace {
// Set from a signal handler: a lock-free atomic is async-signal-safe.
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
} // namespace

bool stop_requested() {
    return g_stop.load(std::memory_order_relaxed);
}

void request_stop() {
    g_stop.store(true, std::memory_order_relaxed);
}

} // namespace barge
