#include "barge/cli/prompt.hpp"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace barge::cli {

std::optional<std::string> ask(const std::string& question) {
    if (!::isatty(STDIN_FILENO)) {
        return std::nullopt;
    }
    std::fprintf(stderr, "%s ", question.c_str());
    std::fflush(stderr);
    std::string answer;
    std::getline(std::cin, answer);
    return answer;
}

} // namespace barge::cli
