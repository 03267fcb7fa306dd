#!/usr/bin/env bash
# The kernel compile check of CI (.ci/run runs it when nvcc is installed; no GPU needed): every .cu
# file under cuda/ compiled by nvcc for each architecture, compile only (-c, the objects into a
# temporary folder that is removed), so kernel code cannot rot where no GPU runs it. The flags are
# binding.gyp's. Exit 1 when any file fails, after all have been tried; prints each file's result
# and the total time.
#   cuda/check/compile.sh                 every file, SQZ_CUDA_JOBS (default 2) at a time
#   SQZ_CUDA_ARCH="80 90"                 the SM architectures (default "80 90": A100, H100/H200)
#   CUDA_HOME=/opt/cuda                   the toolkit (default $CUDA_PATH, else /usr/local/cuda, else nvcc on PATH)
set -euo pipefail
cd "$(dirname "$0")/.."
home=${CUDA_HOME:-${CUDA_PATH:-/usr/local/cuda}}
nvcc=$home/bin/nvcc
[ -x "$nvcc" ] || nvcc=$(command -v nvcc) || { echo "cuda check: nvcc not found (set CUDA_HOME)"; exit 1; }
gencode=()
for a in ${SQZ_CUDA_ARCH:-80 90}; do gencode+=("-gencode=arch=compute_$a,code=sm_$a"); done
out=$(mktemp -d "${TMPDIR:-/tmp}/sqz-cuda-check.XXXXXX")
trap 'rm -rf "$out"' EXIT
export nvcc out
export gencode_flags="${gencode[*]}"
start=$SECONDS
# one line per file: "ok FILE (S s)" or the compiler's output then "FAILED FILE"
# shellcheck disable=SC2016
find . -name '*.cu' -not -path './build/*' | sort | xargs -P "${SQZ_CUDA_JOBS:-2}" -I{} bash -c '
  f={}; t0=$(date +%s%N)
  if log=$("$nvcc" -std=c++17 -O3 -Xcompiler -fPIC $gencode_flags -c "$f" -o "$out/$(echo "$f" | tr / _).o" 2>&1); then
    ds=$(( ($(date +%s%N) - t0) / 100000000 ))
    echo "ok ${f#./} ($((ds / 10)).$((ds % 10)) s)${log:+
$log}"
  else
    printf "%s\nFAILED %s\n" "$log" "${f#./}"; exit 1
  fi' && status=0 || status=1
n=$(find . -name '*.cu' -not -path './build/*' | wc -l)
archs=$(printf 'sm_%s ' ${SQZ_CUDA_ARCH:-80 90})
if [ $status = 0 ]; then
  echo "cuda check: $n .cu files compile for ${archs% } (nvcc $("$nvcc" --version | grep -o "release [0-9.]*" | cut -d" " -f2), $((SECONDS - start)) s)"
else
  echo "cuda check: a .cu file does not compile (above)"
fi
exit $status
