#!/usr/bin/env bash
# The GPU benchmark (benchmarks/gpu.py) as one prepared command.
#
# Here, once:  bash benchmarks/gpu.sh prepare     copies the CIFAR-10 zip into the git-ignored .data/
# On a CUDA machine, with the working tree and .data/ (the device tool: carry [".data"]):
#              bash benchmarks/gpu.sh run [--compile] [gpu.py options]
# The results file is written to $OUT (or runs/gpu) and benchmarks/results/gpu-cuda.json.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-run}" in
  prepare)
    mkdir -p .data
    cp ../shared/data/cifar10-jpeg.zip .data/
    du -sh .data/cifar10-jpeg.zip ;;
  run)
    shift || true
    python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.__version__, torch.cuda.get_device_name())"
    export WINNOW_CACHE="${WINNOW_CACHE:-/tmp/winnow-cache}" PYTHONUNBUFFERED=1
    python3 benchmarks/gpu.py --out "${OUT:-runs/gpu}" "$@" ;;
  *)
    echo "usage: bash benchmarks/gpu.sh prepare | run [gpu.py options]" >&2; exit 2 ;;
esac
