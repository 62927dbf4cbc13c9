#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz_* in fuzz/CMakeLists.txt) with clang 14 and
# ASan/UBSan in build-fuzz/, replays each over its seed corpus, then fuzzes each
# for SECONDS (default 20). Fails on the first crash, leak or sanitizer report.
# fuzz_http (requests into the Client-Server router over a real engine) makes the
# fuzz build compile the engine and nebu_api too: about 110 compile steps,
# several CPU-minutes with clang 14 and ASan/UBSan (ccache helps reruns).
#
#   scripts/fuzz.sh          # 20 s per target
#   scripts/fuzz.sh 300      # 5 min per target
#   JOBS=1 scripts/fuzz.sh   # build parallelism and targets fuzzed at once (default 2)
#   scripts/fuzz.sh --build  # only build the targets (scripts/test.sh runs this niced,
#                            # next to the tests, and the fuzz phase later finds it done)
#
# New inputs that libFuzzer finds go to build-fuzz/corpus/<target>/ (never into the
# committed seeds); crash reproducers go to build-fuzz/artifacts/<target>/.
set -euo pipefail

build_only=0
if [[ "${1:-}" == --build ]]; then
  build_only=1
  shift
fi
seconds="${1:-20}"
jobs="${JOBS:-2}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${root}/build-fuzz"

if ! [[ "${seconds}" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi

# Targets and corpora, read from the declarations: nebu_fuzzer(NAME fuzz_x ... CORPUS dir).
mapfile -t decls < <(tr '\n' ' ' < "${root}/fuzz/CMakeLists.txt" |
  grep -oE 'nebu_fuzzer\([^)]*\)' |
  sed -E 's/.*NAME[[:space:]]+([A-Za-z0-9_]+).*CORPUS[[:space:]]+([^[:space:])]+).*/\1 \2/')
if [[ ${#decls[@]} -eq 0 ]]; then
  echo "fuzz.sh: no nebu_fuzzer targets found in fuzz/CMakeLists.txt" >&2
  exit 1
fi
targets=()
for d in "${decls[@]}"; do targets+=("${d%% *}"); done

# -O1 with line tables only, as is usual for libFuzzer builds: crash reports keep
# file:line, and the build takes about a fifth less CPU than -O2 -g.
fuzz_flags="-O1 -gline-tables-only -DNDEBUG"
# Unity batches (NEBU_UNITY): about half the CPU of compiling file by file.
CC=clang-14 CXX=clang++-14 cmake -S "${root}" -B "${build}" -G Ninja -DNEBU_FUZZ=ON -DNEBU_UNITY=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="${fuzz_flags}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="${fuzz_flags}" >/dev/null
# Keep going past a target that does not build, so the others still get fuzzed;
# the run fails at the end all the same.
if ! ninja -C "${build}" -j"${jobs}" -k 0 "${targets[@]}"; then
  echo "fuzz.sh: some targets failed to build" >&2
  if [[ ${build_only} == 1 ]]; then exit 1; fi
fi
if [[ ${build_only} == 1 ]]; then exit 0; fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

binary_of() {  # the target's executable, wherever CMake put it
  find "${build}" -type f -perm -u+x -name "$1" -print -quit
}

# One target: replays its seeds, then fuzzes it. Its report goes to OUT (printed by the
# caller, so that targets running side by side do not interleave); exit 1 on a failure.
fuzz_one() {  # fuzz_one TARGET SEEDS OUT
  local target=$1 seeds=$2 out=$3 bin log
  exec >"${out}" 2>&1
  bin="$(binary_of "${target}")"
  if [[ -z "${bin}" ]]; then
    echo "fuzz.sh: ${target} was not built"
    return 1
  fi
  mkdir -p "${seeds}" "${build}/corpus/${target}" "${build}/artifacts/${target}"
  echo "== ${target}: replaying $(find "${seeds}" -type f | wc -l) seeds"
  # libFuzzer's progress lines go to a log; only its summary (or, on a failure,
  # the log's tail) is printed, so the run's end stays readable.
  log="${build}/${target}.log"
  if ! "${bin}" -runs=0 "${seeds}" >"${log}" 2>&1; then
    tail -n 60 "${log}"
    echo "fuzz.sh: ${target} crashed on its seed corpus"
    return 1
  fi
  echo "== ${target}: fuzzing for ${seconds}s (log: ${log})"
  if ! "${bin}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="${build}/artifacts/${target}/" \
      "${build}/corpus/${target}" "${seeds}" >"${log}" 2>&1; then
    tail -n 60 "${log}"
    echo "fuzz.sh: ${target} found a crash; reproducer in ${build}/artifacts/${target}/"
    return 1
  fi
  grep -E '^Done [0-9]+ runs|^stat::(average_exec_per_sec|new_units_added|peak_rss_mb)' "${log}" || true
}

# Each libFuzzer process uses one core: up to JOBS targets fuzz side by side, each for
# the full SECONDS, and their reports print in declaration order.
status=0
for d in "${decls[@]}"; do
  target="${d%% *}"
  while [[ $(jobs -rp | wc -l) -ge ${jobs} ]]; do wait -n || true; done
  rm -f "${build}/${target}.rc"
  (fuzz_one "${target}" "${root}/fuzz/${d#* }" "${build}/${target}.out"; echo $? >"${build}/${target}.rc") &
done
wait
for d in "${decls[@]}"; do
  target="${d%% *}"
  cat "${build}/${target}.out"
  [[ "$(cat "${build}/${target}.rc" 2>/dev/null)" == 0 ]] || status=1
done
exit "${status}"
