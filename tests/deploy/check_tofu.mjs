// Checks deploy/tofu without OpenTofu (scripts/lint-deploy.sh runs it): every .tf file
// parses as HCL (@cdktf/hcl2json, the HCL parser of Terraform compiled to WebAssembly),
// and every module holds what the seed's deployment view lists: its variables, their
// validations (semver and no "latest", non-empty checks, ...), its resources and their
// key settings (TLS 1.3 policy, ignore_changes on secret values, the Element/TLS
// precondition, wait = true, ...). Prints one line per failed expectation; exit 1 if any.
//
//   node tests/deploy/check_tofu.mjs deploy/tofu
import { parse } from '@cdktf/hcl2json';
import fs from 'node:fs';
import path from 'node:path';

const root = process.argv[2] || 'deploy/tofu';
const failures = [];
let checks = 0;
function expect(ok, what) {
  checks += 1;
  if (!ok) failures.push(what);
}

// Parses every .tf of `dir` and merges the top-level blocks.
async function loadDir(dir) {
  const merged = {};
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.tf')).sort();
  expect(files.length > 0, `${dir}: no .tf files`);
  for (const f of files) {
    const file = path.join(dir, f);
    let parsed;
    try {
      parsed = await parse(file, fs.readFileSync(file, 'utf8'));
    } catch (err) {
      expect(false, `${file}: does not parse: ${String(err).split('\n')[0]}`);
      continue;
    }
    checks += 1;
    for (const [kind, blocks] of Object.entries(parsed)) {
      merged[kind] = merged[kind] || {};
      for (const [name, body] of Object.entries(blocks)) {
        merged[kind][name] = Object.assign(merged[kind][name] || {}, body);
      }
    }
  }
  return merged;
}

const variable = (m, name) => (m.variable && m.variable[name] ? m.variable[name][0] : null);
const resource = (m, type, name) => (m.resource && m.resource[type] && m.resource[type][name]
  ? m.resource[type][name][0] : null);
const text = (x) => JSON.stringify(x || '');

// Each variable in `names` exists; those in `validated` carry a validation whose
// condition contains every given fragment.
function checkVariables(mod, m, names, validated = {}) {
  for (const name of names) expect(variable(m, name), `${mod}: variable "${name}" is missing`);
  for (const [name, fragments] of Object.entries(validated)) {
    const v = variable(m, name);
    const conditions = v && v.validation ? v.validation.map((x) => x.condition).join('\n') : '';
    for (const fragment of fragments) {
      expect(conditions.includes(fragment),
        `${mod}: variable "${name}" has no validation containing ${JSON.stringify(fragment)}`);
    }
  }
}

function checkResources(mod, m, list) {
  for (const [type, name, fragments = []] of list) {
    const r = resource(m, type, name);
    expect(r, `${mod}: resource ${type}.${name} is missing`);
    for (const fragment of fragments) {
      expect(r && text(r).includes(fragment),
        `${mod}: ${type}.${name} lacks ${JSON.stringify(fragment)}`);
    }
  }
}

function usesCore(mod, m) {
  const core = m.module && m.module.core ? m.module.core[0] : null;
  expect(core && core.source === '../nebu-core', `${mod}: does not use ../nebu-core as module "core"`);
  for (const name of ['nebu_version', 'image_registry', 'domain_name', 'admin_email', 'postgres_db_name']) {
    expect(core && core[name] !== undefined, `${mod}: module core does not get ${name}`);
  }
}

const mods = path.join(root, 'modules');
const core = await loadDir(path.join(mods, 'nebu-core'));
checkVariables('nebu-core', core,
  ['nebu_version', 'domain_name', 'admin_email', 'postgres_db_name', 'image_registry'], {
    nebu_version: ['!= "latest"', '^[0-9]+\\\\.[0-9]+\\\\.[0-9]+$'],
    domain_name: ['length(trimspace(var.domain_name)) > 0'],
    admin_email: ['length(trimspace(var.admin_email)) > 0'],
    postgres_db_name: ['length(trimspace(var.postgres_db_name)) > 0'],
    image_registry: ['length(trimspace(var.image_registry)) > 0'],
  });
expect(!core.resource, 'nebu-core: must not create resources');
expect(core.output && core.output.image, 'nebu-core: output "image" is missing');

const aws = await loadDir(path.join(mods, 'nebu-aws'));
usesCore('nebu-aws', aws);
checkVariables('nebu-aws', aws,
  ['environment', 'aws_region', 'nebu_version', 'image_registry', 'acm_certificate_arn',
    'ecs_desired_count', 'aurora_min_capacity', 'aurora_max_capacity', 'db_password',
    'skip_final_snapshot'], {
    db_password: ['length(var.db_password) >= 8'],
    aws_region: ['length(trimspace(var.aws_region)) > 0'],
  });
expect(variable(aws, 'db_password') && variable(aws, 'db_password').sensitive === true,
  'nebu-aws: db_password is not sensitive');
checkResources('nebu-aws', aws, [
  ['aws_vpc', 'this'], ['aws_subnet', 'public'], ['aws_subnet', 'private'],
  ['aws_nat_gateway', 'this'], ['aws_internet_gateway', 'this'],
  ['aws_security_group', 'alb', ['443', '80']], ['aws_security_group', 'ecs', ['8008', '9000']],
  ['aws_security_group', 'rds', ['5432', 'aws_security_group.ecs.id']],
  ['aws_db_subnet_group', 'this'],
  ['aws_rds_cluster', 'this', ['aurora-postgresql', '"provisioned"', 'serverlessv2_scaling_configuration',
    'storage_encrypted', 'seconds_until_auto_pause']],
  ['aws_rds_cluster_instance', 'this', ['db.serverless', 'performance_insights_enabled']],
  ['aws_lb', 'this', ['drop_invalid_header_fields']],
  ['aws_lb_target_group', 'nebu', ['"ip"', '8008']],
  ['aws_lb_listener', 'https', ['ELBSecurityPolicy-TLS13-1-2-2021-06', 'var.acm_certificate_arn']],
  ['aws_lb_listener', 'http_redirect', ['HTTP_301']],
  ['aws_secretsmanager_secret_version', 'db_url', ['ignore_changes', 'secret_string']],
  ['aws_secretsmanager_secret_version', 'this', ['ignore_changes', 'secret_string']],
  ['aws_ecs_cluster', 'this', ['containerInsights']],
  ['aws_iam_role', 'ecs_task_execution'],
  ['aws_iam_role_policy', 'secrets_read', ['nebu/${var.environment}/*']],
  ['aws_cloudwatch_log_group', 'core'],
  ['aws_ecs_task_definition', 'core', ['module.core.image', 'secrets', 'nebu-healthcheck']],
  ['aws_ecs_service', 'core', ['ignore_changes', 'task_definition', 'desired_count']],
  ['aws_efs_file_system', 'data', ['encrypted']],
]);
const taskDef = text(resource(aws, 'aws_ecs_task_definition', 'core'));
expect(!/environment[^\]]*NEBU_DB_URL/.test(taskDef.split('secrets')[0]),
  'nebu-aws: NEBU_DB_URL must come through secrets, not environment');

const stackit = await loadDir(path.join(mods, 'nebu-stackit'));
usesCore('nebu-stackit', stackit);
checkVariables('nebu-stackit', stackit,
  ['project_id', 'network_cidr', 'vm_plan_id', 'availability_zone', 'alb_plan_id', 'image_id',
    'ssh_public_key', 'enable_tls', 'enable_element_web', 'oidc_mode', 'oidc_issuer',
    'oidc_client_secret', 'dex_static_password_hash'], {
    project_id: ['length(trimspace(var.project_id)) > 0'],
    oidc_mode: ['"dex"', '"external"'],
    oidc_client_secret: ['regex('],
    dex_static_password_hash: ['$2'],
  });
checkResources('nebu-stackit', stackit, [
  ['stackit_network', 'this'], ['stackit_security_group', 'this'],
  ['stackit_security_group_rule', 'ingress', ['443', '8008', '22']],
  ['stackit_network_interface', 'this'], ['stackit_key_pair', 'this'],
  ['stackit_server', 'this', ['templatefile', 'precondition', 'var.enable_element_web || var.enable_tls']],
  ['stackit_public_ip', 'this'],
  ['stackit_loadbalancer', 'this', ['PROTOCOL_TCP', '443']],
  ['stackit_postgresflex_instance', 'this', ['var.network_cidr', '"version":"16"']],
  ['stackit_postgresflex_user', 'app', ['nebu_app', 'nebu_migrate']],
]);
expect(fs.existsSync(path.join(mods, 'nebu-stackit/templates/cloud-init.yaml.tftpl')),
  'nebu-stackit: templates/cloud-init.yaml.tftpl is missing');

const k8s = await loadDir(path.join(mods, 'nebu-k8s'));
checkVariables('nebu-k8s', k8s,
  ['release_name', 'chart_path', 'namespace', 'image_tag', 'ingress_enabled', 'helm_timeout',
    'values_files', 'existing_secret_name', 'etcd_endpoints'], {
    image_tag: ['!= "latest"'],
    values_files: ['startswith(f, "/")'],
    existing_secret_name: ['length(trimspace(var.existing_secret_name)) > 0'],
  });
checkResources('nebu-k8s', k8s, [
  ['helm_release', 'nebu', ['"wait":true', 'var.helm_timeout', 'image.tag', 'existingSecret.name',
    'etcd.endpoints']],
]);

for (const example of ['aws', 'stackit', 'k8s']) {
  const dir = path.join(root, 'examples', example);
  const m = await loadDir(dir);
  const nebu = m.module && m.module.nebu ? m.module.nebu[0] : null;
  expect(nebu && nebu.source === `../../modules/nebu-${example}`,
    `examples/${example}: module "nebu" does not use ../../modules/nebu-${example}`);
  expect(fs.existsSync(path.join(dir, 'RUNBOOK.md')), `examples/${example}: RUNBOOK.md is missing`);
  expect(fs.existsSync(path.join(dir, 'terraform.tfvars.example')),
    `examples/${example}: terraform.tfvars.example is missing`);
}

for (const f of failures) console.log(`check_tofu: FAIL ${f}`);
console.log(`check_tofu: ${checks - failures.length}/${checks} checks passed`);
process.exit(failures.length ? 1 : 0);
