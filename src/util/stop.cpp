#include "barge/util/stop.hpp"

#include <atomic>
#include <csignal>

namespace barge {

namespace {
// Set from a signal handler: lock-free atomics are async-signal-safe.
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

ExitCode code_of(int sig) {
    return sig > 0 ? static_cast<ExitCode>(128 + sig) : ExitCode::stopped;
}
} // namespace

bool stop_requested() {
    return g_stop.load(std::memory_order_relaxed);
}

void request_stop(int sig) {
    int none = 0;
    g_signal.compare_exchange_strong(none, sig, std::memory_order_relaxed);
    g_stop.store(true, std::memory_order_relaxed);
}

int stop_signal() {
    return g_signal.load(std::memory_order_relaxed);
}

std::string stop_signal_name() {
    switch (stop_signal()) {
    case SIGINT:
        return "SIGINT";
    case SIGTERM:
        return "SIGTERM";
    case SIGHUP:
        return "SIGHUP";
    default:
        return "a stop request";
    }
}

Stopped::Stopped()
    : Error("interrupted by " + stop_signal_name() + ": stopped at a safe point; the next run continues",
            code_of(stop_signal())) {}

} // namespace barge
