#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
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

// A dry run's plan: its lines kept in an unlinked temporary file (in $TMPDIR,
// else /tmp) as they are decided, read back once to print them, and their counts in
// memory. Held in memory, a load --dry-run of ten million files peaked at 6.4 GiB
// (SPEC §8: bounded memory at ten million files); the file holds about the bytes
// the printed plan takes. A copy shares the file (a JSON document prints the
// plan after the run's result is gone); lines are added to one copy only.
class Plan {
public:
    void add(const PlanLine& line);
    int64_t size() const { return m_lines; }
    bool empty() const { return m_lines == 0; }
    int64_t goes() const { return m_goes; }
    int64_t go_bytes() const { return m_go_bytes; }
    // Each line in the order added.
    void each(const std::function<void(const PlanLine&)>& f) const;

private:
    std::shared_ptr<std::FILE> m_file;
    int64_t m_lines = 0;
    int64_t m_goes = 0;
    int64_t m_go_bytes = 0;
};

} // namespace barge
