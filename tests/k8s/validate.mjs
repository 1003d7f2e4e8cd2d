// Schema and consistency check of packaging/kubernetes (CTest label `k8s`).
//
//   node tests/k8s/validate.mjs              the base, the example overlay and the base with the KEDA component
//   node tests/k8s/validate.mjs --self-test  every broken fixture in tests/k8s/bad/ must be refused, each with
//                                             the message its expect.txt names
//   node tests/k8s/validate.mjs DIR...       any kustomization folders (every reference must resolve)
//
// Each folder is rendered with `kubectl kustomize` (offline) and every object is checked:
//   1. its kind exists (kubernetes-models for the Kubernetes API, @kubernetes-models/keda for KEDA's CRDs;
//      pinned in tests/k8s/package.json) and it matches that kind's JSON schema (types, enums, formats,
//      required fields);
//   2. no unknown field anywhere: the compiled schema validators read exactly the properties a schema
//      declares, so a Proxy records what each one reads and any key it never read is unknown (a typo such as
//      `readOnlyRootFileSystem` is otherwise silently dropped by the API server); free-form objects (maps,
//      preserve-unknown-fields) are enumerated by the validator and pass;
//   3. references resolve within the rendered set (ConfigMaps, Secrets and their keys, Service selectors and
//      target ports, PDB and HPA / ScaledObject targets, StatefulSet service names), except the objects a
//      target declares external (the base expects its Secret from outside);
//   4. every pod runs as the restricted Pod Security Standard asks (non-root, no privilege escalation, all
//      capabilities dropped, seccomp RuntimeDefault) with a read-only root file system and resources;
//   5. the maskdetect worker: readiness /readyz, liveness /healthz, a preStop, a grace period longer than the
//      preStop plus --drain-timeout, its --data-dir on a writable volume.
// Exit 0 when all pass, 1 on any failure, 77 (CTest: skipped) when kubectl or the npm modules are missing
// outside CI; under CI=true a missing tool is a failure.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const inCi = process.env.CI === 'true';

function unavailable(reason) {
  if (inCi) {
    console.error(`FAIL (CI=true): ${reason}`);
    process.exit(1);
  }
  console.error(`SKIP: ${reason}`);
  process.exit(77);
}

const kubectl = process.env.KUBECTL || 'kubectl';
try {
  execFileSync(kubectl, ['version', '--client'], { stdio: 'ignore' });
} catch {
  unavailable(`'${kubectl}' not found: kubectl 1.32 (with kustomize) renders the manifests`);
}
let YAML;
try {
  YAML = await import('yaml');
  await import('kubernetes-models/v1/Pod');
  await import('@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject');
} catch (e) {
  unavailable(`npm modules missing in tests/k8s (run scripts/setup.sh, or npm ci there): ${e.message}`);
}

// apiVersion/kind -> the model class (its prototype.validate runs the compiled schema), loaded on demand
// (importing the whole package reads some 1,800 schema modules: seconds): the Kubernetes API from
// kubernetes-models, KEDA's CRDs from @kubernetes-models/keda; null for a kind neither has.
const models = new Map();
async function model(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!models.has(key)) {
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
    const pkg = group === 'keda.sh' || group.endsWith('.keda.sh') ? '@kubernetes-models/keda' : 'kubernetes-models';
    const base = group === '' ? `${pkg}/${version}` : `${pkg}/${group}/${version}`;
    let found = null;
    if (/^[A-Za-z0-9.]*$/.test(group) && /^v[0-9a-z]+$/.test(version) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
      try {
        const module = await import(`${base}/${kind}`);
        const Model = module[kind];
        if (Model?.apiVersion === apiVersion && Model?.kind === kind) found = Model;
      } catch {
        found = null;
      }
    }
    models.set(key, found);
  }
  return models.get(key);
}

// Wraps `value` so that every property the validator reads, and every object it enumerates, is recorded.
function tracked(value, pathText, records) {
  if (value === null || typeof value !== 'object') return value;
  let record = records.get(value);
  if (!record) {
    record = { path: pathText, read: new Set(), enumerated: false, proxy: null };
    records.set(value, record);
    record.proxy = new Proxy(value, {
      get(target, key, receiver) {
        const result = Reflect.get(target, key, receiver);
        if (typeof key !== 'string' || !Object.hasOwn(target, key)) return result;
        record.read.add(key);
        return tracked(result, `${record.path}/${key}`, records);
      },
      has(target, key) {
        if (typeof key === 'string') record.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        record.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
  }
  return record.proxy;
}

function unknownFields(object, records) {
  const found = [];
  const visit = (value) => {
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      value.forEach(visit);
      return;
    }
    const record = records.get(value);
    if (!record) return; // a part no schema describes (under a free-form object)
    if (!record.enumerated && record.read.size > 0) {
      for (const key of Object.keys(value)) {
        if (!record.read.has(key)) found.push(`${record.path}/${key}`);
      }
    }
    Object.values(value).forEach(visit);
  };
  visit(object);
  return found;
}

async function schemaErrors(object) {
  const Model = await model(object.apiVersion, object.kind);
  if (!Model) return [`unknown kind ${object.kind} in ${object.apiVersion} (not in the pinned Kubernetes or KEDA models)`];
  const records = new WeakMap();
  const errors = [];
  try {
    Model.prototype.validate.call(tracked(object, '', records));
  } catch (e) {
    errors.push(`schema: ${e.message}`);
  }
  for (const field of unknownFields(object, records)) errors.push(`unknown field ${field || '/'}`);
  return errors;
}

const id = (o) => `${o.kind}/${o.metadata?.name}`;
const podTemplateKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels?.[k] === v);
}

function secretKeys(secret) {
  return new Set([...Object.keys(secret.data || {}), ...Object.keys(secret.stringData || {})]);
}

function referenceErrors(objects, external) {
  const errors = [];
  const byId = new Map(objects.map((o) => [id(o), o]));
  const workloads = objects.filter((o) => podTemplateKinds.has(o.kind));
  const exists = (kind, name) => byId.has(`${kind}/${name}`) || external.includes(`${kind}/${name}`);
  const needKey = (kind, name, key, where) => {
    if (!exists(kind, name)) {
      errors.push(`${where}: ${kind} ${name} does not exist`);
      return;
    }
    const object = byId.get(`${kind}/${name}`);
    if (!object || key === undefined) return;
    const keys = kind === 'Secret' ? secretKeys(object) : new Set(Object.keys(object.data || {}));
    if (!keys.has(key)) errors.push(`${where}: ${kind} ${name} has no key '${key}'`);
  };
  for (const w of workloads) {
    const spec = w.spec.template.spec;
    for (const v of spec.volumes || []) {
      if (v.configMap && !v.configMap.optional) needKey('ConfigMap', v.configMap.name, undefined, `${id(w)} volume ${v.name}`);
      if (v.secret && !v.secret.optional) needKey('Secret', v.secret.secretName, undefined, `${id(w)} volume ${v.name}`);
    }
    for (const c of [...(spec.initContainers || []), ...spec.containers]) {
      for (const e of c.env || []) {
        const cm = e.valueFrom?.configMapKeyRef;
        const s = e.valueFrom?.secretKeyRef;
        if (cm && !cm.optional) needKey('ConfigMap', cm.name, cm.key, `${id(w)} env ${e.name}`);
        if (s && !s.optional) needKey('Secret', s.name, s.key, `${id(w)} env ${e.name}`);
      }
      for (const e of c.envFrom || []) {
        if (e.configMapRef && !e.configMapRef.optional) needKey('ConfigMap', e.configMapRef.name, undefined, `${id(w)} envFrom`);
        if (e.secretRef && !e.secretRef.optional) needKey('Secret', e.secretRef.name, undefined, `${id(w)} envFrom`);
      }
      const ports = new Set((c.ports || []).map((p) => p.name).filter(Boolean));
      for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
        const port = c[probe]?.httpGet?.port ?? c[probe]?.tcpSocket?.port;
        if (typeof port === 'string' && !ports.has(port)) errors.push(`${id(w)} ${c.name} ${probe}: no container port named '${port}'`);
      }
    }
    if (!matches(w.spec.selector?.matchLabels, w.spec.template.metadata?.labels)) {
      errors.push(`${id(w)}: its selector does not match its pod template's labels`);
    }
    if (w.kind === 'StatefulSet' && w.spec.serviceName && !exists('Service', w.spec.serviceName)) {
      errors.push(`${id(w)}: serviceName ${w.spec.serviceName} names no Service`);
    }
  }
  for (const s of objects.filter((o) => o.kind === 'Service' && o.spec.selector)) {
    const targets = workloads.filter((w) => matches(s.spec.selector, w.spec.template.metadata?.labels));
    if (targets.length === 0) {
      errors.push(`${id(s)}: its selector matches no pod template`);
      continue;
    }
    for (const p of s.spec.ports || []) {
      if (typeof p.targetPort !== 'string') continue;
      const named = targets.some((w) => w.spec.template.spec.containers.some((c) => (c.ports || []).some((cp) => cp.name === p.targetPort)));
      if (!named) errors.push(`${id(s)} port ${p.name}: no container port named '${p.targetPort}'`);
    }
  }
  for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget')) {
    if (!workloads.some((w) => matches(pdb.spec.selector?.matchLabels, w.spec.template.metadata?.labels))) {
      errors.push(`${id(pdb)}: its selector matches no pod template`);
    }
  }
  for (const a of objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject')) {
    const ref = a.spec.scaleTargetRef;
    if (!exists(ref.kind || 'Deployment', ref.name)) errors.push(`${id(a)}: scale target ${ref.kind || 'Deployment'}/${ref.name} does not exist`);
  }
  const autoscalers = objects.filter((o) => o.kind === 'HorizontalPodAutoscaler' || o.kind === 'ScaledObject');
  if (autoscalers.length > 1) errors.push(`two autoscalers for one target: ${autoscalers.map(id).join(', ')}`);
  return errors;
}

function podSecurityErrors(objects) {
  const errors = [];
  for (const w of objects.filter((o) => podTemplateKinds.has(o.kind))) {
    const pod = w.spec.template.spec;
    const psc = pod.securityContext || {};
    for (const c of [...(pod.initContainers || []), ...pod.containers]) {
      const where = `${id(w)} container ${c.name}`;
      const sc = c.securityContext || {};
      if (!(sc.runAsNonRoot ?? psc.runAsNonRoot)) errors.push(`${where}: runAsNonRoot is not true`);
      if ((sc.runAsUser ?? psc.runAsUser) === 0) errors.push(`${where}: runs as user 0`);
      if (sc.allowPrivilegeEscalation !== false) errors.push(`${where}: allowPrivilegeEscalation is not false`);
      if (!(sc.capabilities?.drop || []).includes('ALL')) errors.push(`${where}: capabilities do not drop ALL`);
      if ((sc.capabilities?.add || []).length) errors.push(`${where}: adds capabilities`);
      if (sc.privileged) errors.push(`${where}: privileged`);
      if ((sc.seccompProfile?.type ?? psc.seccompProfile?.type) !== 'RuntimeDefault') errors.push(`${where}: seccomp profile is not RuntimeDefault`);
      if (sc.readOnlyRootFilesystem !== true) errors.push(`${where}: readOnlyRootFilesystem is not true`);
      const r = c.resources || {};
      if (!r.requests?.cpu || !r.requests?.memory) errors.push(`${where}: no cpu and memory requests`);
      if (!r.limits?.memory) errors.push(`${where}: no memory limit`);
    }
    if (pod.hostNetwork || pod.hostPID || pod.hostIPC) errors.push(`${id(w)}: uses a host namespace`);
  }
  return errors;
}

// Seconds a preStop `sleep N` takes, or 0.
function preStopSeconds(c) {
  const hook = c.lifecycle?.preStop;
  if (hook?.sleep) return Number(hook.sleep.seconds);
  const cmd = hook?.exec?.command || [];
  return cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
}

function argValue(args, flag) {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
}

function workerErrors(objects) {
  const errors = [];
  const workers = objects.filter((o) => o.kind === 'Deployment' && o.spec.template.spec.containers.some((c) => c.name === 'maskdetect'));
  if (workers.length !== 1) return [`expected one Deployment with a maskdetect container, found ${workers.length}`];
  const pod = workers[0].spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'maskdetect');
  const args = c.args || [];
  const where = `${id(workers[0])} container maskdetect`;
  if (args[0] !== 'serve') errors.push(`${where}: does not run 'serve'`);
  if (c.readinessProbe?.httpGet?.path !== '/readyz') errors.push(`${where}: readiness is not GET /readyz`);
  if (c.livenessProbe?.httpGet?.path !== '/healthz') errors.push(`${where}: liveness is not GET /healthz`);
  if (!c.lifecycle?.preStop) errors.push(`${where}: no preStop hook`);
  const drain = Number(argValue(args, '--drain-timeout') ?? 10);
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  if (!(grace > preStopSeconds(c) + drain)) {
    errors.push(`${where}: terminationGracePeriodSeconds ${grace} is not above preStop ${preStopSeconds(c)} s + --drain-timeout ${drain} s`);
  }
  const dataDir = argValue(args, '--data-dir');
  const mount = (c.volumeMounts || []).find((m) => m.mountPath === dataDir);
  if (!dataDir || !mount || mount.readOnly) errors.push(`${where}: --data-dir is not on a writable volume mount`);
  const config = argValue(args, '--config');
  if (config && !(c.volumeMounts || []).some((m) => config.startsWith(`${m.mountPath}/`))) errors.push(`${where}: --config ${config} is on no volume`);
  return errors;
}

async function render(dir) {
  try {
    const { stdout } = await promisify(execFile)(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return stdout;
  } catch (e) {
    throw new Error(`kubectl kustomize ${path.relative(root, dir) || '.'} failed: ${(e.stderr || e.message).trim()}`);
  }
}

// All errors of one kustomization folder (rendering included).
async function check(dir, { external = [] } = {}) {
  let text;
  try {
    text = await render(dir);
  } catch (e) {
    return { errors: [e.message], objects: [] };
  }
  const objects = [];
  const errors = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length) {
      errors.push(`YAML: ${doc.errors[0].message}`);
      continue;
    }
    const o = doc.toJS();
    // kustomize folds long base64 values of generated Secrets over lines; the API server's decoder (Go's
    // encoding/base64) skips the line breaks, the schema's `byte` format does not: decode as the server does.
    if (o?.kind === 'Secret' && o.data) {
      for (const key of Object.keys(o.data)) o.data[key] = String(o.data[key]).replace(/[\r\n]/g, '');
    }
    if (o) objects.push(o);
  }
  const seen = new Set();
  for (const o of objects) {
    const name = `${o.kind}/${o.metadata?.name}`;
    if (!o.apiVersion || !o.kind) errors.push(`an object without apiVersion or kind: ${JSON.stringify(o).slice(0, 80)}`);
    if (!o.metadata?.name) errors.push(`${o.kind}: no metadata.name`);
    if (seen.has(name)) errors.push(`${name}: defined twice`);
    seen.add(name);
    for (const e of await schemaErrors(o)) errors.push(`${name}: ${e}`);
  }
  if (errors.length === 0) {
    errors.push(...referenceErrors(objects, external), ...podSecurityErrors(objects));
    errors.push(...workerErrors(objects));
  }
  return { errors, objects };
}

function report(label, { errors, objects }) {
  if (errors.length) {
    console.log(`FAIL ${label}`);
    for (const e of errors) console.log(`  - ${e}`);
    return false;
  }
  const kinds = {};
  for (const o of objects) kinds[o.kind] = (kinds[o.kind] || 0) + 1;
  console.log(`ok   ${label}: ${objects.length} objects (${Object.entries(kinds).map(([k, n]) => `${k} ${n}`).join(', ')})`);
  return true;
}

const argv = process.argv.slice(2);
let passed = 0;
let failed = 0;
const count = (ok) => (ok ? passed++ : failed++);
if (argv[0] === '--self-test') {
  const badDir = path.join(here, 'bad');
  const names = readdirSync(badDir).sort();
  // Each fixture is the base (its Secret from outside, as in production) with one mistake; rendered at once.
  const results = await Promise.all(names.map((name) => check(path.join(badDir, name), { external: ['Secret/maskdetect'] })));
  names.forEach((name, i) => {
    const expected = readFileSync(path.join(badDir, name, 'expect.txt'), 'utf8').trim();
    const { errors } = results[i];
    const hit = errors.find((e) => e.includes(expected));
    if (hit) console.log(`ok   bad/${name} refused: ${hit}`);
    else console.log(`FAIL bad/${name}: expected an error containing '${expected}', got ${errors.length ? errors.map((e) => `\n  - ${e}`).join('') : 'none'}`);
    count(Boolean(hit));
  });
} else {
  const targets = argv.length
    ? argv.map((d) => ({ dir: path.resolve(d), options: {} }))
    : [
        { dir: 'packaging/kubernetes/base', options: { external: ['Secret/maskdetect'] } },
        { dir: 'packaging/kubernetes/overlays/example', options: {} },
        { dir: 'tests/k8s/keda', options: { external: ['Secret/maskdetect'] } },
      ].map((t) => ({ dir: path.join(root, t.dir), options: t.options }));
  const results = await Promise.all(targets.map((t) => check(t.dir, t.options)));
  targets.forEach((t, i) => count(report(path.relative(root, t.dir), results[i])));
}
console.log(`k8s: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
