#!/usr/bin/env bash
# Records the README's "Real output" session again, in a scratch folder: every command as the
# README shows it, with its real output (stderr and stdout together). Needs ../shared's weights
# file (or VEHICLES_SHARED_DIR). Usage: bash benchmarks/readme_session.sh > session.txt
set -u
here="$(cd "$(dirname "$0")/.." && pwd)"
shared="${VEHICLES_SHARED_DIR:-$here/../shared}"
trainer="$here/.venv/bin/trainer"
work="$(mktemp -d)"
cd "$work" || exit 1
export TRAINER_CACHE_DIR="$work/cache" VEHICLEAPP_DATA_DIR="$work/appdata"
cp "$shared/weights/mobilenet_v2-keras-imagenet-features.pth" .
w=mobilenet_v2-keras-imagenet-features.pth
# inbox and other: drawings made with another seed (inbox: 4 a class and a text file named .jpg);
# no-bikes: the demo data's car and truck folders.
"$trainer" demo-data other --per-class 10 --size 96 --seed 1 >/dev/null 2>&1
mkdir -p inbox no-bikes
for c in car motorcycle truck; do cp other/$c/${c}_000[0-3].jpg inbox/; done
echo "not a photo" > inbox/notes.jpg

show() {  # the command as typed, then what it printed
  echo "\$ $*"
  PATH="$here/.venv/bin:$PATH" eval "$@" 2>&1 | sed "s#$work/##g"
  echo
}
show "trainer models"
show "trainer demo-data demo --per-class 60 --size 96"
cp -r demo/car demo/truck no-bikes/
show "trainer train demo --model mobilenet_v2 --weights $w --epochs 5 --image-size 96"
run="$(ls -d checkpoints/* | head -1)"
show "trainer evaluate $run demo"
show "trainer classify $run inbox --out predictions.csv"
show "head -4 predictions.csv"
show "trainer export $run model.onnx"
show "trainer classify model.onnx inbox --out from-onnx.csv      # the same labels as the run's"
show "trainer explain $run inbox/truck_0000.jpg --out heatmaps"
show "trainer train no-bikes --weights $w --epochs 5 --image-size 96   # car, truck only"
bikes="$(ls -d checkpoints/* | tail -1)"
show "trainer classify $bikes other/motorcycle --out bikes.csv   # never seen a motorcycle"
show "head -2 bikes.csv"
show "trainer threshold $run 0.5; trainer threshold $run --undo"
show "trainer train demo --lr abc; echo \"exit=\$?\""
show "trainer classify checkpoints/nope inbox; echo \"exit=\$?\""
rm -rf "$work"
