#pragma once

#include <cstdint>
#include <string>

namespace barge {

// A file that could not be processed, and why.
struct FileProblem {
    std::string path;
    std::string reason;
};

// One line of a dry run's plan.
struct PlanLine {
    std::string path;
    int64_t bytes = 0;
    bool goes = false;
    std::string why; // for what stays
};

} // namespace barge
