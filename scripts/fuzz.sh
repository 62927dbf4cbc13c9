#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz_* in fuzz/CMakeLists.txt) with clang 14 and
# ASan/UBSan in build-fuzz/, replays each over its seed corpus, then fuzzes each
# for SECONDS (default 20). Fails on the first crash, leak or sanitizer report.
# fuzz_http (requests into the Client-Server router over a real engine) makes the
# fuzz build compile the engine and nebu_api too: about 70 more compile steps,
# roughly 10 CPU-minutes with clang 14 and ASan/UBSan (ccache helps reruns).
#
#   scripts/fuzz.sh          # 20 s per target
#   scripts/fuzz.sh 300      # 5 min per target
#   JOBS=1 scripts/fuzz.sh   # build parallelism (default 2)
#
# New inputs that libFuzzer finds go to build-fuzz/corpus/<target>/ (never into the
# committed seeds); crash reproducers go to build-fuzz/artifacts/<target>/.
set -euo pipefail

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

CC=clang-14 CXX=clang++-14 cmake -S "${root}" -B "${build}" -G Ninja -DNEBU_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# Keep going past a target that does not build, so the others still get fuzzed;
# the run fails at the end all the same.
ninja -C "${build}" -j"${jobs}" -k 0 "${targets[@]}" || echo "fuzz.sh: some targets failed to build" >&2

export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

binary_of() {  # the target's executable, wherever CMake put it
  find "${build}" -type f -perm -u+x -name "$1" -print -quit
}

status=0
for d in "${decls[@]}"; do
  target="${d%% *}"
  seeds="${root}/fuzz/${d#* }"
  bin="$(binary_of "${target}")"
  if [[ -z "${bin}" ]]; then
    echo "fuzz.sh: ${target} was not built" >&2
    status=1
    continue
  fi
  mkdir -p "${seeds}" "${build}/corpus/${target}" "${build}/artifacts/${target}"
  echo "== ${target}: replaying $(find "${seeds}" -type f | wc -l) seeds"
  # libFuzzer's progress lines go to a log; only its summary (or, on a failure,
  # the log's tail) is printed, so the run's end stays readable.
  log="${build}/${target}.log"
  if ! "${bin}" -runs=0 "${seeds}" >"${log}" 2>&1; then
    tail -n 60 "${log}" >&2
    echo "fuzz.sh: ${target} crashed on its seed corpus" >&2
    status=1
    continue
  fi
  echo "== ${target}: fuzzing for ${seconds}s (log: ${log})"
  if ! "${bin}" -max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="${build}/artifacts/${target}/" \
      "${build}/corpus/${target}" "${seeds}" >"${log}" 2>&1; then
    tail -n 60 "${log}" >&2
    echo "fuzz.sh: ${target} found a crash; reproducer in ${build}/artifacts/${target}/" >&2
    status=1
  else
    grep -E '^Done [0-9]+ runs|^stat::(average_exec_per_sec|new_units_added|peak_rss_mb)' "${log}" || true
  fi
done
exit "${status}"
