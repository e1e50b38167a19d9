#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace barge {

// A file that could not be processed, and why.
struct FileProblem {
    std::string path;
    std::string reason;
};

// What a run reports item by item, in the order met: the first `held` in
// memory, the rest in an unlinked temporary file (in $TMPDIR, else /tmp), as a
// Plan's lines are. Every one is listed (SPEC §4: each failure with its
// reason, exit 3) whatever their number, in bounded memory (SPEC §8): held in
// memory, 200,200 failures of an unload took 192 MiB, 97 MiB since. Where the
// temporary file cannot be written, the rest stay in memory (said once in the
// log): none is ever left out of the listing. A copy shares the file; items
// are added to one copy only. T: FileProblem or std::string (report.cpp).
template <typename T>
class Spooled {
public:
    static constexpr size_t held = 1000;
    void push_back(T item);
    size_t size() const { return m_count; }
    bool empty() const { return m_count == 0; }
    // Each item in the order added.
    void each(const std::function<void(const T&)>& f) const;
    // The first ones (all of them when there are at most `held`).
    const std::vector<T>& first() const { return m_first; }

private:
    std::vector<T> m_first;            // the first `held`
    std::shared_ptr<std::FILE> m_file; // the next ones
    size_t m_in_file = 0;
    std::vector<T> m_rest; // after the file could not be written
    size_t m_count = 0;
};

// The files a run could not process, each with its reason.
using Problems = Spooled<FileProblem>;
// What a run tells besides (a file that changed while read, to be carried on
// a later run, say): one per file at most, so as many as the files.
using Notes = Spooled<std::string>;

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
