#!/usr/bin/env bash
# Sets up a drive with two pairs: photos (deletions go to the destination's
# trash, kept 180 days) and documents (caches and temporary files excluded, a
# 5% reserve). Run at home with the drive mounted; adjust the paths below or
# set them in the environment.
# Usage: examples/two-pairs.sh /media/usb
set -euo pipefail
mount_point=${1:?usage: $0 MOUNT_POINT_OF_THE_DRIVE}
drive=$mount_point/barge
export BARGE_DRIVE=$drive
photos=${PHOTOS:-/srv/photos} photos_dest=${PHOTOS_DEST:-/mnt/backup/photos}
docs=${DOCS:-$HOME/Documents} docs_dest=${DOCS_DEST:-/mnt/backup/documents}

[[ -e $drive/barge.db ]] || barge init "$drive"
barge pair add photos "$photos" "$photos_dest" \
    --on-delete trash --retention 180
barge pair add documents "$docs" "$docs_dest" \
    --exclude '*.tmp' --exclude '~$*' --exclude '.cache/' --exclude '**/node_modules' \
    --reserve 5%
barge pair list
barge load --dry-run
echo "now run: BARGE_DRIVE=$drive barge load"
