#include "barge/cli/cli.hpp"

int main(int argc, char** argv) {
    return barge::cli::run(argc, argv);
}
