#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): installs the Debian packages
# (scripts/deps.sh --test), configures build/ with -DNEBU_WERROR=ON, builds every
# target, runs ctest, the real-client suites, the coverage report and the deploy lint
# (beside them, niced: the fuzz build, the container smoke test and, in CI, the
# benchmarks' build), then the bounded fuzz run (scripts/fuzz.sh). Exits non-zero if
# any phase fails; later phases still run after a test failure so one run shows all.
#
#   sudo scripts/test.sh          # or as root; from any directory; safe to re-run
#   NEBU_FUZZ_SECONDS=60 scripts/test.sh
# shellcheck disable=SC2317  # the functions below run through phase "$@"
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1

total_start=${SECONDS}
failed=()
timings=()  # "name Ns" per phase, repeated at the end (CI shows only the output's end)
rm -f build/ctest.log  # finish() reports only this run's ctest summary

phase() {  # phase NAME COMMAND...: runs COMMAND, prints its time, records a failure
  local name="$1" start=${SECONDS} rc=0
  shift
  echo "==> ${name}"
  "$@" || rc=$?
  echo "<== ${name}: $((SECONDS - start))s$([[ ${rc} -ne 0 ]] && echo ", FAILED (exit ${rc})")"
  timings+=("${name} $((SECONDS - start))s")
  if [[ ${rc} -ne 0 ]]; then failed+=("${name}"); fi
  return "${rc}"
}

configure() {
  # A build/ made by another generator cannot be reused; start it afresh.
  if [[ -f build/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/CMakeCache.txt; then
    rm -rf build
  fi
  # CI builds a clean clone, with nothing in ccache: there the targets compile in unity
  # batches (NEBU_UNITY, about half the CPU of a clean build) and use precompiled headers
  # (NEBU_PCH); CMakeLists.txt says why neither is the default.
  # And there the benchmarks (bench/: built, not run) compile in the background beside
  # the tests rather than in the build phase.
  local ci=OFF
  if [[ "${CI:-}" == true ]]; then ci=ON; fi
  cmake -S . -B build -G Ninja -DNEBU_WERROR=ON -DNEBU_PCH="${ci}" -DNEBU_UNITY="${ci}" \
    -DNEBU_BENCH_IN_ALL="$([[ ${ci} == ON ]] && echo OFF || echo ON)"
}

# Three entries at once on CI's 2 cores: most wait on nebu processes, etcd, PostgreSQL
# and timeouts (at -j2 they used 0.9 of the 2 cores; -j3 took 356 to 425 s against 651
# here). A test that disturbs a shared service runs alone (RUN_SERIAL).
run_ctest() {  # keeps ctest's summary line for the end of the output
  ctest --test-dir build --output-on-failure -j3 2>&1 | tee build/ctest.log
}

finish() {
  if [[ -f build/ctest.log ]]; then
    # Repeated here because CI shows only the end of the output: the summary, the
    # failed ctest entries and the failed test cases with their assertion lines.
    grep -E '^[0-9]+% tests passed' build/ctest.log | tail -1
    sed -n '/^The following tests FAILED:/,$p' build/ctest.log
    grep -E '^\[  FAILED  \]|Failure$|^Expected|^  Actual|Which is:|Value of:|seed' build/ctest.log | head -40
  fi
  local joined
  joined=$(IFS=,; echo "${timings[*]}")
  echo "test.sh: phases: ${joined//,/, }"
  echo "test.sh: total $((SECONDS - total_start))s"
  if [[ ${#failed[@]} -gt 0 ]]; then
    echo "test.sh: FAILED: ${failed[*]}"
    exit 1
  fi
  echo "test.sh: all phases passed"
  exit 0
}

# Setup: without the build packages or a build nothing else can run. What only the
# tests need (PostgreSQL, etcd, clang, Node and the end-to-end clients' npm packages,
# chromium) installs while the build compiles: it needs the network and the disk,
# hardly any CPU. The tests wait for it (phase test-deps).
phase deps bash scripts/deps.sh || finish
phase configure configure || finish
mkdir -p build
( bash scripts/deps.sh --test && bash scripts/e2e.sh --install ) >build/test-deps.log 2>&1 &
test_deps_pid=$!
phase build cmake --build build -- -j"$(nproc)" || finish
wait_test_deps() {
  local rc=0
  wait "${test_deps_pid}" || rc=$?
  sed 's/^/  /' build/test-deps.log
  return "${rc}"
}
phase test-deps wait_test_deps || finish

# Background phases run next to the test phases, on the CPU those leave idle (tests
# wait on etcd elections, PostgreSQL, timeouts and clients); each is waited for, and its
# log printed, at its place at the end.
#   - in CI, the benchmarks (bench/, built and not run), at nice 19;
#   - the fuzz build (clang 14 with ASan/UBSan over the engine and nebu_api: several
#     CPU-minutes), at nice 19, which leaves a busy test nearly all the CPU; the fuzz
#     phase then only fuzzes;
#   - the container smoke test (podman + docker-compose: the image from build/app/nebu,
#     the Compose stack with nginx and its three-node override with a real client; about
#     7 minutes with podman's layer cache warm, about 10 more on a fresh machine; it skips
#     itself when podman is not installable; NEBU_CONTAINER_SMOKE=0 leaves it out), at
#     nice 10, on free ports and its own container network.
declare -A bg_pids=() bg_starts=()
bg_start() {  # bg_start NAME COMMAND...: runs COMMAND in the background into build/NAME.log
  local name=$1
  shift
  "$@" >"build/${name}.log" 2>&1 &
  bg_pids[${name}]=$!
  bg_starts[${name}]=${SECONDS}
}
bg_wait() {  # bg_wait NAME [LINES]: waits for NAME, prints its log (its last LINES), its status
  local name=$1 lines=${2:-} rc=0
  wait "${bg_pids[${name}]}" || rc=$?
  if [[ -n "${lines}" ]]; then
    grep -E 'error|FAILED' "build/${name}.log" | head -40
    tail -n "${lines}" "build/${name}.log"
  else
    cat "build/${name}.log"
  fi
  echo "(${name} ran $((SECONDS - bg_starts[${name}]))s in the background)"
  return "${rc}"
}
if ! grep -q '^NEBU_BENCH_IN_ALL:BOOL=ON$' build/CMakeCache.txt; then
  bg_start benches nice -n 19 ionice -c 3 cmake --build build --target benches -- -j"$(nproc)"
fi
if [[ -f scripts/fuzz.sh ]]; then
  bg_start fuzz-build nice -n 19 ionice -c 3 bash scripts/fuzz.sh --build
fi
if [[ "${NEBU_CONTAINER_SMOKE:-1}" != 0 ]]; then
  bg_start container-smoke nice -n 10 bash scripts/container-smoke.sh
fi

# Services the tests need start here; each adds its stop command to on_exit.
on_exit=()
run_on_exit() {
  local c
  for c in "${on_exit[@]}"; do ${c} || true; done
}
trap run_on_exit EXIT
#   - a throwaway PostgreSQL cluster for the projection tests (NEBU_TEST_PG_URL)
start_pg() {
  NEBU_TEST_PG_URL=$(bash scripts/pg.sh start) || return 1
  NEBU_TEST_PG_ADMIN_URL=$(bash scripts/pg.sh admin-url) || return 1
  # From here a PostgreSQL test that skips is a failure (tests/projections/pg_test_util.h).
  NEBU_TEST_PG_REQUIRED=1
  export NEBU_TEST_PG_URL NEBU_TEST_PG_ADMIN_URL NEBU_TEST_PG_REQUIRED
  on_exit+=("bash scripts/pg.sh stop")
}
phase postgresql start_pg

# A throwaway 3-member etcd for the cluster tests (tests/replication): its client
# endpoints in NEBU_TEST_ETCD_ENDPOINTS, its directory (scripts/etcd.sh pid N DIR, for
# kill tests) in NEBU_TEST_ETCD_DIR. From here an etcd test that skips is a failure
# (tests/replication/etcd_test_util.h).
start_etcd() {
  NEBU_TEST_ETCD_DIR=${NEBU_ETCD_DIR:-/tmp/nebu-etcd-test-$$}
  NEBU_TEST_ETCD_ENDPOINTS=$(bash scripts/etcd.sh start --members=3 "${NEBU_TEST_ETCD_DIR}") || return 1
  on_exit+=("bash scripts/etcd.sh destroy ${NEBU_TEST_ETCD_DIR}")
  # And a 1-member one with authentication (the client's token handling).
  NEBU_TEST_ETCD_AUTH_ENDPOINTS=$(bash scripts/etcd.sh start --auth "${NEBU_TEST_ETCD_DIR}-auth") || return 1
  on_exit+=("bash scripts/etcd.sh destroy ${NEBU_TEST_ETCD_DIR}-auth")
  # And one serving TLS with client certificates (the client's TLS options).
  NEBU_TEST_ETCD_TLS_DIR="${NEBU_TEST_ETCD_DIR}-tls"
  bash scripts/etcd.sh start --tls "${NEBU_TEST_ETCD_TLS_DIR}" >/dev/null || return 1
  on_exit+=("bash scripts/etcd.sh destroy ${NEBU_TEST_ETCD_TLS_DIR}")
  NEBU_TEST_ETCD_REQUIRED=1
  export NEBU_TEST_ETCD_ENDPOINTS NEBU_TEST_ETCD_DIR NEBU_TEST_ETCD_AUTH_ENDPOINTS \
    NEBU_TEST_ETCD_TLS_DIR NEBU_TEST_ETCD_REQUIRED
}
phase etcd start_etcd

export NEBU_TEST_PROMTOOL_REQUIRED=1  # /metrics under promtool (deps.sh --test: prometheus)
# The compliance export of a 100,000-event room with edits and redactions, compared
# with the log line by line (tests/compliance/large_export_test.cpp; 10,000 by default).
export NEBU_EXPORT_TEST_EVENTS="${NEBU_EXPORT_TEST_EVENTS:-100000}"
phase ctest run_ctest
phase e2e bash scripts/e2e.sh
# The Client-Server API coverage report (operations present out of the spec's; media
# and single sign-on have their own issues). It fails only when the probe cannot run.
phase coverage python3 scripts/coverage.py --missing
# deploy/: the lint of what cannot run here (Helm, OpenTofu: scripts/lint-deploy.sh), then
# the container smoke test's result (started in the background above).
phase lint-deploy bash scripts/lint-deploy.sh
if [[ -n "${bg_pids[container-smoke]:-}" ]]; then
  phase container-smoke bg_wait container-smoke
fi
if [[ -n "${bg_pids[benches]:-}" ]]; then
  phase benches bg_wait benches 3
fi
if [[ -n "${bg_pids[fuzz-build]:-}" ]]; then
  phase fuzz-build bg_wait fuzz-build 3
  phase fuzz bash scripts/fuzz.sh "${NEBU_FUZZ_SECONDS:-20}"
fi
finish
