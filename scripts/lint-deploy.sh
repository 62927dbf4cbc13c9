#!/usr/bin/env bash
# Checks what of deploy/ cannot run here (`make test-iac-validate`; scripts/test.sh runs
# it as the phase lint-deploy). Neither Helm nor OpenTofu is installed, so:
#   - yamllint (Debian) on every YAML file of deploy/ (not the Helm templates: Go templates)
#   - shellcheck on the container and deployment scripts
#   - docker-compose config: compose.yaml alone and with compose.scale.yaml, all profiles
#   - the HCL of every OpenTofu module and example parses (@cdktf/hcl2json from npm,
#     pinned by tests/deploy/package-lock.json) and holds the seed's variables,
#     validations and resources (tests/deploy/check_tofu.mjs); and the checker itself
#     fails on a copy of nebu-core without the "latest" validation
#   - the chart's values.schema.json accepts good values and rejects a values file
#     without the image tag, "latest" and more (tests/deploy/check_chart_values.py,
#     python3-jsonschema), and every .Values the templates use exists
#   - the k6 scenarios parse as ES modules and carry the seed's tiers and thresholds
#   - the Containerfile's required parts; the Makefile's release target refuses bad tags
# With helm on the PATH, `helm lint`/`helm template` run too; with tofu or terraform,
# `fmt -check` and a plan of nebu-core with good and bad values (its validations, for real).
#
#   scripts/lint-deploy.sh        # from any directory; exit 1 when a check fails
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

failed=()
check() {  # check NAME COMMAND...: runs COMMAND, records a failure
  local name=$1 rc=0
  shift
  "$@" || rc=$?
  if ((rc == 0)); then echo "lint-deploy: ok   ${name}"; else
    echo "lint-deploy: FAIL ${name} (exit ${rc})"
    failed+=("${name}")
  fi
}
need() { command -v "$1" >/dev/null || { echo "lint-deploy: $1 is missing (scripts/deps.sh --test)"; return 1; }; }

yaml_files() {
  find deploy -name '*.yaml' -not -path 'deploy/helm/nebu/templates/*' -not -path 'deploy/secrets/*' | sort
}
run_yamllint() {
  need yamllint || return 1
  # shellcheck disable=SC2046  # the file list has no spaces
  yamllint --strict -c tests/deploy/yamllint.yaml $(yaml_files) tests/deploy/values-*.yaml
}

run_shellcheck() {
  need shellcheck || return 1
  shellcheck scripts/container-smoke.sh scripts/lint-deploy.sh deploy/container/nebu-healthcheck \
    tests/deploy/images/postgres-entrypoint.sh &&
    shellcheck -s sh deploy/minio/minio-setup.sh
}

run_compose_config() {
  if ! command -v docker-compose >/dev/null; then
    echo "lint-deploy: docker-compose is not installed: compose files checked by yamllint only"
    return 0
  fi
  local profiles=(--profile dex --profile s3 --profile element)
  docker-compose -f deploy/compose.yaml "${profiles[@]}" config -q &&
    docker-compose -f deploy/compose.yaml -f deploy/compose.scale.yaml "${profiles[@]}" config -q
}

json_files() {
  local f
  for f in deploy/element/config.json deploy/minio/nebu-app-policy.json \
    deploy/helm/nebu/values.schema.json; do
    /usr/bin/python3 -m json.tool "${f}" >/dev/null || { echo "lint-deploy: ${f} is not JSON"; return 1; }
  done
}

npm_ready() {  # npm ci in tests/deploy while package-lock.json changed
  local dir=tests/deploy stamp want
  stamp="${dir}/node_modules/.nebu-lock.sha256"
  want=$(sha256sum "${dir}/package-lock.json" | cut -d' ' -f1)
  [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] && return 0
  need npm || return 1
  (cd "${dir}" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) || return 1
  echo "${want}" >"${stamp}"
}

run_tofu_checks() {
  npm_ready || return 1
  node tests/deploy/check_tofu.mjs deploy/tofu || return 1
  # The checker must notice a missing validation.
  local tmp rc=0
  tmp=$(mktemp -d) || return 1
  cp -r deploy/tofu "${tmp}/tofu"
  sed -i 's/var.nebu_version != "latest"/true/' "${tmp}/tofu/modules/nebu-core/variables.tf"
  if node tests/deploy/check_tofu.mjs "${tmp}/tofu" >/dev/null; then
    echo "lint-deploy: check_tofu.mjs accepted nebu-core without its \"latest\" validation"
    rc=1
  fi
  rm -rf "${tmp}"
  return "${rc}"
}

# With OpenTofu or Terraform on the PATH: `fmt -check` of every module, and nebu-core
# (which needs no provider, so no registry) initialized, validated and planned with good
# values and with each bad value its validations must refuse. The provider modules need
# their providers downloaded: not done here (no registry access).
run_tf_checks() {
  local tf tmp rc=0 case bad out
  tf=$(command -v tofu || command -v terraform) || {
    echo "lint-deploy: no tofu or terraform here: nebu-core not planned"
    return 0
  }
  "${tf}" fmt -check -recursive deploy/tofu >/dev/null 2>&1 || { echo "${tf} fmt -check: not formatted"; rc=1; }
  tmp=$(mktemp -d) || return 1
  cp -r deploy/tofu/modules/nebu-core "${tmp}/"
  local good=(-var nebu_version=1.2.3 -var domain_name=matrix.example.org
    -var admin_email=ops@example.org -var image_registry=registry.example.org/nebu)
  (cd "${tmp}/nebu-core" && "${tf}" init -backend=false -input=false >/dev/null 2>&1 &&
    "${tf}" validate -no-color >/dev/null 2>&1 &&
    "${tf}" plan -input=false -no-color "${good[@]}" >/dev/null 2>&1) ||
    { echo "nebu-core: init/validate/plan with good values failed"; rc=1; }
  for case in "nebu_version=latest|never \"latest\"" "nebu_version=v1.2.3|semantic version" \
    "nebu_version=1.2|semantic version" "domain_name= |must not be empty" \
    "admin_email=ops|e-mail address" "postgres_db_name=Nebu-DB|PostgreSQL identifier" \
    "image_registry=|must not be empty" "image_registry=r.example.org/|must not end with /"; do
    bad=${case%%|*}
    out=$(cd "${tmp}/nebu-core" && "${tf}" plan -input=false -no-color "${good[@]}" -var "${bad}" 2>&1)
    out=${out//│/}
    if ! tr -s '\n ' '  ' <<<"${out}" | grep -q "${case#*|}"; then
      echo "nebu-core: plan with ${bad} was not refused with \"${case#*|}\""
      rc=1
    fi
  done
  rm -rf "${tmp}"
  return "${rc}"
}

run_chart_checks() {
  /usr/bin/python3 tests/deploy/check_chart_values.py deploy/helm/nebu || return 1
  if command -v helm >/dev/null; then
    helm lint deploy/helm/nebu -f tests/deploy/values-ok.yaml &&
      helm template t deploy/helm/nebu -f tests/deploy/values-ok.yaml >/dev/null &&
      ! helm template t deploy/helm/nebu -f tests/deploy/values-no-tag.yaml >/dev/null 2>&1
  fi
}

run_k6_checks() {
  need node || return 1
  local tmp rc=0 f
  tmp=$(mktemp -d) || return 1
  cp -r deploy/k6/scenarios "${tmp}/" && echo '{"type": "module"}' >"${tmp}/scenarios/package.json"
  for f in "${tmp}"/scenarios/*.js "${tmp}"/scenarios/lib/*.js; do
    node --check "${f}" || rc=1
  done
  rm -rf "${tmp}"
  grep -q "const VUS = 1000;" deploy/k6/scenarios/gold-tier.js &&
    grep -q "tierOptions(VUS, '5m', 500)" deploy/k6/scenarios/gold-tier.js &&
    grep -q "const VUS = 500;" deploy/k6/scenarios/silver-tier.js &&
    grep -q "tierOptions(VUS, '5m', 800)" deploy/k6/scenarios/silver-tier.js || rc=1
  for f in nebu_login_duration nebu_sync_duration nebu_send_duration; do
    grep -q "new Trend('${f}'" deploy/k6/scenarios/lib/nebu.js || { echo "k6: trend ${f} missing"; rc=1; }
  done
  return "${rc}"
}

run_containerfile_checks() {
  local f=deploy/Containerfile rc=0 want
  for want in '^ARG BASE_IMAGE=debian:bookworm$' '^FROM \$\{BASE_IMAGE\} AS build$' 'scripts/deps.sh' \
    '^ARG NEBU_BINARY_FROM=source$' 'prebuilt\)' '^COPY --from=build /out/nebu /usr/local/bin/nebu$' '^HEALTHCHECK ' '^EXPOSE 8008 8080 9000$' \
    '^USER 10001:10001$' '^VOLUME \["/var/lib/nebu"\]$'; do
    grep -Eq "${want}" "${f}" || { echo "Containerfile: no line matching ${want}"; rc=1; }
  done
  return "${rc}"
}

run_makefile_checks() {
  need make || return 1
  local out
  make -s release TAG=1.2.3 >/dev/null 2>&1 && { echo "make release accepted TAG=1.2.3"; return 1; }
  make -s release TAG=v1.2.3-rc1 >/dev/null 2>&1 && { echo "make release accepted TAG=v1.2.3-rc1"; return 1; }
  out=$(make -n release TAG=v1.2.3) || return 1
  [[ "${out}" == *"nebu-core:1.2.3 ."* ]] || { echo "make release TAG=v1.2.3 does not tag nebu-core:1.2.3"; return 1; }
  make -n image image-prebuilt compose-up compose-down compose-scale-up dev-reset-db >/dev/null
}

check "yamllint deploy/" run_yamllint
check "shellcheck" run_shellcheck
check "docker-compose config (all profiles, scale override)" run_compose_config
check "JSON files" json_files
check "OpenTofu modules parse, seed variables/validations/resources" run_tofu_checks
check "tofu/terraform: fmt, nebu-core validations planned" run_tf_checks
check "Helm values schema and template references" run_chart_checks
check "k6 scenarios" run_k6_checks
check "Containerfile" run_containerfile_checks
check "Makefile targets, release tag check" run_makefile_checks
command -v helm >/dev/null || echo "lint-deploy: not run: helm lint/template (no helm here)"
echo "lint-deploy: not run: init/validate/plan of nebu-aws, nebu-stackit, nebu-k8s and the examples (providers need a registry)"

if ((${#failed[@]} > 0)); then
  echo "lint-deploy: FAILED: ${failed[*]}"
  exit 1
fi
echo "lint-deploy: all checks passed"
