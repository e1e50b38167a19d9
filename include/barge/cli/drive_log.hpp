#pragma once

#include "barge/fs/drive.hpp"

#include <string>
#include <vector>

namespace barge::cli {

// The drive log, DRIVE/logs/: a rotating text log (barge.log, then barge.1.log …
// barge.5.log, 4 MiB each) on a plain drive; on an encrypted drive the same lines
// sealed one by one (crypto/sealed_log.hpp) in barge.log.sealed, barge.log.1.sealed
// … barge.log.5.sealed, each appended under an flock (barges that share the drive).

// Sends the log's lines to the drive as well (the logger of context.cpp).
void add_drive_log_sink(const DriveLayout& layout);

// Every line of the drive log, oldest first (`barge log --drive-log`); an
// encrypted log is authenticated record by record (TamperedLog otherwise).
std::vector<std::string> read_drive_log(const DriveLayout& layout);

} // namespace barge::cli
