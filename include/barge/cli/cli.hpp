#pragma once

namespace barge::cli {

// Parses the command line, runs the command and returns the process exit code
// (SPEC §5). Every error is mapped to its exit code here and nowhere else.
int run(int argc, char** argv);

} // namespace barge::cli
