#!/usr/bin/env bash
# Prepares the training and held-out data of the shipped model from the real recordings in
# ../shared/data (or $LIPMOTION_DATA) into PREPARED (default: prepared/):
#   grid_s1     GRID speaker s1, split train/val/test by clip id (the main speaker)
#   identities  other people, all used for training: GRID s2, LRS3 sample1-3, LRW train_/val_
#   heldout     identities never trained on: GRID s3, s4, s5, LRS3 sample4-6, LRW test_
# Re-running resumes (finished shards are kept).
set -euo pipefail
DATA=${LIPMOTION_DATA:-../shared/data}
OUT=${1:-prepared}
LIPMOTION=${LIPMOTION:-.venv/bin/lipmotion}

link() {  # link FOLDER FILES...: gather videos (and their GRID alignments) under one folder
    local folder=$1; shift
    mkdir -p "$folder"
    for file in "$@"; do
        ln -sf "$(realpath "$file")" "$folder/$(basename "$file")"
        local align="${file%.*}.align"
        [[ -f $align ]] && ln -sf "$(realpath "$align")" "$folder/$(basename "$align")"
    done
    return 0
}

sources="$OUT/sources"
rm -rf "$sources"
link "$sources/identities/s2" "$DATA"/grid/speakers/s2/*.mpg
link "$sources/identities/lrs3" "$DATA"/lrs3/sample{1,2,3}.mp4
link "$sources/identities/lrw" "$DATA"/lrw/train_*.mp4 "$DATA"/lrw/val_*.mp4
for speaker in s3 s4 s5; do
    link "$sources/heldout/$speaker" "$DATA"/grid/speakers/$speaker/*.mpg
done
link "$sources/heldout/lrs3" "$DATA"/lrs3/sample{4,5,6}.mp4
link "$sources/heldout/lrw" "$DATA"/lrw/test_*.mp4

"$LIPMOTION" prepare "$DATA/grid/s1" "$OUT/grid_s1"
"$LIPMOTION" prepare "$sources/identities" "$OUT/identities" --shard-size 16
"$LIPMOTION" prepare "$sources/heldout" "$OUT/heldout" --shard-size 16
