# Operations targets (the seed's Makefile): images, Compose, the IaC checks, releases.
# Building and testing nebu itself: scripts/run.sh and scripts/test.sh (README).
#
#   make image                   full multi-stage image build (compiles nebu in the build stage)
#   make image-prebuilt          image from the already built build/app/nebu (no compile)
#   make release TAG=v1.2.3      release image nebu-core:1.2.3 (only vMAJOR.MINOR.PATCH)
#   make secrets                 deploy/secrets/* for Compose (random, once)
#   make compose-up / compose-down / compose-scale-up / compose-scale-down
#   make dev-reset-db            empty the Compose PostgreSQL; nebu re-migrates and re-projects
#   make test-iac-validate       lint deploy/ (scripts/lint-deploy.sh: YAML, shell, HCL, chart schema)
#   make container-smoke         build, run and test the Compose stacks with podman
#
# Two image tracks: every build is tagged with its commit (REGISTRY/core:<sha>); a release
# is REGISTRY/nebu-core:<semver>, the v of the Git tag stripped. Set PUSH=1 to push.

SHELL := /bin/bash
.DEFAULT_GOAL := help

CONTAINER ?= podman
COMPOSE ?= docker-compose
REGISTRY ?= localhost/nebu
BASE_IMAGE ?= debian:bookworm
JOBS ?= 2
PUSH ?= 0

GIT_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
BUILD_TIME := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
BUILD_IMAGE := $(REGISTRY)/core:$(GIT_COMMIT)
DEV_IMAGE := $(REGISTRY)/core:dev

# podman needs --format docker to keep HEALTHCHECK, and the ignore file named.
ifeq ($(CONTAINER),podman)
BUILD_FLAGS := --format docker --ignorefile deploy/Containerfile.dockerignore
else
BUILD_FLAGS :=
endif
BUILD := $(CONTAINER) build $(BUILD_FLAGS) -f deploy/Containerfile \
  --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg GIT_COMMIT=$(GIT_COMMIT) \
  --build-arg BUILD_TIME=$(BUILD_TIME)

COMPOSE_ONE := $(COMPOSE) -f deploy/compose.yaml
COMPOSE_SCALE := $(COMPOSE) -f deploy/compose.yaml -f deploy/compose.scale.yaml

.PHONY: help image image-prebuilt release secrets compose-up compose-down \
  compose-scale-up compose-scale-down dev-reset-db test-iac-validate container-smoke

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

image:
	$(BUILD) --build-arg JOBS=$(JOBS) --build-arg RELEASE_VERSION=$(GIT_COMMIT) \
	  -t $(BUILD_IMAGE) -t $(DEV_IMAGE) .
	@if [[ "$(PUSH)" == 1 ]]; then $(CONTAINER) push $(BUILD_IMAGE); fi

image-prebuilt:
	@test -x build/app/nebu || { echo "build/app/nebu is missing: cmake --build build --target nebu"; exit 1; }
	mkdir -p build/container && strip --strip-debug -o build/container/nebu build/app/nebu
	$(BUILD) --build-arg NEBU_BINARY_FROM=prebuilt --build-arg NEBU_BINARY=build/container/nebu \
	  --build-arg RELEASE_VERSION=$(GIT_COMMIT) -t $(BUILD_IMAGE) -t $(DEV_IMAGE) .

# TAG must be vMAJOR.MINOR.PATCH (no pre-release suffix); the image tag drops the v.
release:
	@[[ "$(TAG)" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$$ ]] || \
	  { echo "release: TAG must look like v1.2.3 (got '$(TAG)')" >&2; exit 1; }
	$(BUILD) --no-cache --build-arg JOBS=$(JOBS) --build-arg RELEASE_VERSION=$(TAG:v%=%) \
	  -t $(REGISTRY)/nebu-core:$(TAG:v%=%) .
	@if [[ "$(PUSH)" == 1 ]]; then $(CONTAINER) push $(REGISTRY)/nebu-core:$(TAG:v%=%); fi
	@echo "release: $(REGISTRY)/nebu-core:$(TAG:v%=%)"

# Random secrets for Compose, made once (an existing file is kept). 0644 files in a 0700
# directory: Compose mounts them as they are and nebu runs as uid 10001.
secrets:
	@umask 077; mkdir -p deploy/secrets; cd deploy/secrets; \
	gen() { [[ -s "$$1" ]] || head -c 48 /dev/urandom | base64 | tr -d '/+=\n' | head -c "$${2:-40}" >"$$1"; }; \
	gen internal_secret; gen registration_shared_secret; gen pg_password 32; \
	gen s3_secret_key; gen oidc_client_secret; gen minio_root_password; \
	[[ -s minio_root_user ]] || printf minio-root >minio_root_user; \
	[[ -s db_url ]] || printf 'postgresql://nebu_app:%s@postgres:5432/nebu' "$$(cat pg_password)" >db_url; \
	chmod 0644 ./*; echo "secrets: deploy/secrets/ ($$(ls | tr '\n' ' '))"

compose-up: secrets
	$(COMPOSE_ONE) up -d

compose-down:
	$(COMPOSE_ONE) down

compose-scale-up: secrets
	$(COMPOSE_SCALE) up -d

compose-scale-down:
	$(COMPOSE_SCALE) down

# Empties the projection database of the Compose stack: nebu stops, the database is
# dropped and made again, nebu starts, applies the squashed schema and projects its whole
# log again (the log is the source of truth; nothing is lost).
dev-reset-db:
	$(COMPOSE_ONE) stop nebu
	$(COMPOSE_ONE) exec -T postgres psql -U nebu_app -d postgres -v ON_ERROR_STOP=1 \
	  -c 'DROP DATABASE IF EXISTS nebu WITH (FORCE)' -c 'CREATE DATABASE nebu'
	$(COMPOSE_ONE) start nebu
	@echo "dev-reset-db: done; nebu re-migrates and re-projects (watch /ready)"

test-iac-validate:
	bash scripts/lint-deploy.sh

container-smoke:
	bash scripts/container-smoke.sh
