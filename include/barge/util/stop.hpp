#pragma once

#include "barge/util/error.hpp"

#include <string>

namespace barge {

// Stop requests (SIGINT, SIGTERM, SIGHUP): long loops poll stop_requested() at
// safe points, and loops over a file's blocks throw Stopped. Async-signal-safe.
bool stop_requested();
// Records the request (sig: the signal that asked; 0 when not a signal).
void request_stop(int sig);
// The signal that asked to stop, 0 if none did.
int stop_signal();
// "SIGINT", "SIGTERM", "SIGHUP", or "a stop request".
std::string stop_signal_name();

// A run stopped at a safe point because a stop was requested: what it was
// doing is abandoned (its temporary files removed), what it finished stays.
// The exit code is 128 + the signal's number (130, 143, 129), as shells report it.
class Stopped : public Error {
public:
    Stopped();
    bool stops_run() const override { return true; }
};

// Throws Stopped when a stop was requested.
inline void throw_if_stopped() {
    if (stop_requested()) {
        throw Stopped();
    }
}

} // namespace barge
