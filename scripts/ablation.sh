#!/usr/bin/env bash
# Table 5 style ablation of the superpoint network (configs/ablation/superpoints_*.yaml):
# every row x 3 seeds trained on 2 ranks, scored on the first 200 synthetic val queries,
# then the table of means and spreads (configs/ablation/RESULTS.md). Resumable: a finished
# run or evaluation is kept. Usage: bash scripts/ablation.sh DATA RUNS [SEEDS...]
set -euo pipefail
data=${1:?dataset root, e.g. data/tabletop}; runs=${2:?output folder}; shift 2
seeds=("${@:-0 1 2}"); seeds=(${seeds[*]})
mkdir -p "$runs"
for seed in "${seeds[@]}"; do  # seed by seed: every row has as many seeds at any time
  for row in full no_dcma no_memory; do
    run="$runs/${row}_s$seed"
    if [ ! -f "$run/last.pt" ]; then
      python - "$row" "$seed" "$runs" <<'PY'
import sys, yaml
row, seed, runs = sys.argv[1:]
cfg = yaml.safe_load(open(f"configs/ablation/superpoints_{row}.yaml"))
cfg.setdefault("train", {})["seed"] = int(seed)
yaml.safe_dump(cfg, open(f"{runs}/{row}_s{seed}.yaml", "w"))
PY
      OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 -m query3d train \
        --config "$runs/${row}_s$seed.yaml" --data "$data" --out "$run"
    fi
    [ -f "$run/eval.json" ] || query3d eval --checkpoint "$run/last.pt" --data "$data" \
      --split val --max-samples 200 --no-baselines --json "$run/eval.json" > "$run/eval.txt" 2>&1
  done
done
python - "$runs" <<'PY'
import glob, json, sys, numpy as np
rows = {}
for path in sorted(glob.glob(f"{sys.argv[1]}/*_s*/eval.json")):
    rows.setdefault(path.split("/")[-2].rsplit("_s", 1)[0], []).append(json.load(open(path)))
keys = ["miou", "acc@0.5", "zero_target_accuracy", "box_acc@0.25"]
print("| variant | seeds | " + " | ".join(keys) + " |")
for row, evals in rows.items():
    cells = [f"{100*np.mean([e.get(k, 0) for e in evals]):.1f} +- "
             f"{100*np.std([e.get(k, 0) for e in evals]):.1f}" for k in keys]
    print(f"| {row} | {len(evals)} | " + " | ".join(cells) + " |")
PY
