#!/usr/bin/env bash
# Prepares the motion model's data from the real recordings in ../shared/data (or
# $LIPMOTION_DATA) into OUT (default: prepared/motion):
#   OUT/train    everything that may be trained on (GRID s1, s2, s4; LRS2; LRS3 sample1-3;
#                LRW train_/val_; TED; Arabic news); GRID s1's test split is chosen by clip id
#                at training time, as for the pixel data
#   OUT/heldout  the identities kept out of training (GRID s3, s5; LRS3 sample4-6; LRW test_;
#                all of voxceleb2/)
#   INTERIOR/{train,heldout}.npz  the learned mouth interior's examples (prepare-interior)
#   JOINT/{train,val}.npz         the joint stage's windows (prepare-joint)
# Re-running resumes (finished clips are kept). WORKERS sets the processes (default 2).
set -euo pipefail
DATA=${LIPMOTION_DATA:-../shared/data}
OUT=${1:-prepared/motion}
LIPMOTION=${LIPMOTION:-.venv/bin/lipmotion}
WORKERS=${WORKERS:-2}

link() {  # link FOLDER FILES...: gather videos under one folder
    local folder=$1; shift
    mkdir -p "$folder"
    for file in "$@"; do ln -sf "$(realpath "$file")" "$folder/$(basename "$file")"; done
}

sources="$OUT/sources"
rm -rf "$sources"
link "$sources/train/s1" "$DATA"/grid/s1/*.mpg
link "$sources/train/s2" "$DATA"/grid/speakers/s2/*.mpg
link "$sources/train/s4" "$DATA"/grid/s4/*.mp4 "$DATA"/grid/speakers/s4/*.mpg
link "$sources/train/lrs2" "$DATA"/lrs2/*.mp4
link "$sources/train/lrs3" "$DATA"/lrs3/sample{1,2,3}.mp4
link "$sources/train/lrw" "$DATA"/lrw/train_*.mp4 "$DATA"/lrw/val_*.mp4
link "$sources/train/ted" "$DATA"/ted/*.mp4
link "$sources/train/arabic_news" "$DATA"/arabic_news/*.mp4
link "$sources/heldout/s3" "$DATA"/grid/speakers/s3/*.mpg
link "$sources/heldout/s5" "$DATA"/grid/speakers/s5/*.mpg
link "$sources/heldout/lrs3" "$DATA"/lrs3/sample{4,5,6}.mp4
link "$sources/heldout/lrw" "$DATA"/lrw/test_*.mp4
while IFS= read -r -d '' clip; do
    link "$sources/heldout/voxceleb2" "$clip"
done < <(find "$DATA/voxceleb2" -name '*.mp4' -print0)

"$LIPMOTION" prepare-motion "$sources/heldout" "$OUT/heldout" --workers "$WORKERS"
"$LIPMOTION" prepare-motion "$sources/train" "$OUT/train" --workers "$WORKERS"

# The learned mouth interior's examples (self-reenactment on the same clips and videos):
# INTERIOR (default prepared/interior)/train.npz and heldout.npz; a file already there is kept.
INTERIOR=${INTERIOR:-$(dirname "$OUT")/interior}
for split in heldout train; do
    per_clip=$([ "$split" = heldout ] && echo 8 || echo 4)
    if [ ! -f "$INTERIOR/$split.npz" ]; then
        "$LIPMOTION" prepare-interior "$OUT/$split" "$sources/$split" "$INTERIOR/$split.npz" \
            --frames-per-clip "$per_clip"
    fi
done

# The joint stage's windows (audio -> motion -> pixels) from the training clips: JOINT
# (default prepared/joint)/train.npz and val.npz; kept when already there.
JOINT=${JOINT:-$(dirname "$OUT")/joint}
if [ ! -f "$JOINT/train.npz" ]; then
    "$LIPMOTION" prepare-joint "$OUT/train" "$sources/train" "$JOINT"
fi
