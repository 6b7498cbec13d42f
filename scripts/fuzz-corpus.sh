#!/usr/bin/env bash
# Regenerates the checked-in seeds, fuzz/seeds/<target>/ (or the directory given), from the
# inputs the test suite and the examples already use: raw-string literals in the tests (kind
# configs, Corefiles, CNI configs, API objects and patches), the example manifests, and a few
# DNS queries. The inputs fuzzers once broke something with (crash-*) sit beside these and are
# kept. Idempotent.
#
#   scripts/fuzz-corpus.sh && git status fuzz/seeds
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-fuzz/seeds}
mkdir -p "$out"/{dns_message,corefile,cni_config,ipam_state,api_body,api_patch,kind_config}

python3 - "$out" <<'PY'
import hashlib, pathlib, re, struct, sys

out = pathlib.Path(sys.argv[1])
raw = re.compile(r'r#"(.*?)"#', re.S)

def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    name = hashlib.sha1(data).hexdigest()[:16]
    (out / target / name).write_bytes(data)

def literals(globs):
    for g in globs:
        for path in pathlib.Path('.').glob(g):
            if 'target' in path.parts:
                continue
            yield from raw.findall(path.read_text(errors='replace'))

for text in literals(['crates/lab/config/**/*.rs', 'tests/*.rs', 'benches/*.rs']):
    if 'kind: Cluster' in text or 'kind.x-k8s.io' in text:
        save('kind_config', text)
def calls(globs, fns):
    # "…" arguments of the named test helpers, unescaped.
    call = re.compile(r'\b(' + '|'.join(fns) + r')\(\s*"((?:[^"\\]|\\.)*)"', re.S)
    for g in globs:
        for path in pathlib.Path('.').glob(g):
            for fn, lit in call.findall(path.read_text(errors='replace')):
                yield fn, lit.encode().decode('unicode_escape')

head = 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n'
for fn, text in calls(['crates/lab/config/tests/*.rs'], ['ok', 'body_errors', 'errors', 'parse']):
    save('kind_config', head + text if fn in ('ok', 'body_errors') else text)
for p in ['examples/lab/kind-cluster.yaml', 'examples/quick-start/kind.yaml']:
    save('kind_config', pathlib.Path(p).read_text())

for text in literals(['crates/dns/**/*.rs', 'tests/dns*.rs']):
    if '{' in text and re.search(r'\b(forward|kubernetes|cache|errors|health)\b', text):
        save('corefile', text)
for _, text in calls(['crates/dns/**/*.rs', 'tests/dns*.rs'], [r'Corefile::parse', 'reload']):
    save('corefile', text)

for text in literals(['crates/cni/**/*.rs', 'tests/cni*.rs']):
    if 'cniVersion' in text:
        save('cni_config', text)
        save('cni_config', b'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p\0' + text.encode())
conflist = pathlib.Path('examples/cni/10-podnet.conflist').read_text()
save('cni_config', conflist)
# The plugins of the example conflist, each as a plugin receives it.
import json
doc = json.loads(conflist)
for plugin in doc.get('plugins', []):
    plugin = dict(plugin, cniVersion=doc['cniVersion'], name=doc['name'])
    save('cni_config', json.dumps(plugin))
    save('cni_config', json.dumps(dict(plugin, prevResult={
        'cniVersion': '1.1.0',
        'interfaces': [{'name': 'cni0', 'mac': '0a:58:0a:f4:01:01'},
                       {'name': 'eth0', 'sandbox': '/var/run/netns/x', 'mtu': 1450}],
        'ips': [{'interface': 1, 'address': '10.244.1.5/24', 'gateway': '10.244.1.1'}],
        'routes': [{'dst': '0.0.0.0/0', 'gw': '10.244.1.1', 'table': 100}],
        'dns': {'nameservers': ['10.96.0.10'], 'search': ['default.svc.cluster.local']}})))

# api_body: the first byte picks the Content-Type (0 JSON, 1 YAML, 2 protobuf).
for p in pathlib.Path('examples').glob('**/*.yaml'):
    for doc in p.read_text().split('\n---'):
        if 'apiVersion' in doc:
            save('api_body', b'\x01' + doc.encode())
for text in literals(['crates/apiserver/server/tests/*.rs', 'tests/*.rs']):
    s = text.strip()
    if s.startswith('{') and '"kind"' in s:
        save('api_body', b'\x00' + s.encode())
    if s.startswith('apiVersion') or '\napiVersion' in s:
        save('api_body', b'\x01' + s.encode())

# api_patch: the first byte picks the kind (0 JSON patch, 1 merge, 2 strategic, 3 apply).
for p in [
    b'\x00[{"op":"replace","path":"/spec/containers/0/image","value":"nginx:1.27"}]',
    b'\x00[{"op":"add","path":"/metadata/labels/tier","value":"web"},{"op":"test","path":"/metadata/name","value":"web-0"}]',
    b'\x00[{"op":"remove","path":"/spec/tolerations/0"},{"op":"move","from":"/metadata/labels","path":"/metadata/annotations"}]',
    b'\x01{"metadata":{"labels":{"app":null,"tier":"web"}}}',
    b'\x01{"spec":{"containers":[{"name":"web","image":"x"}]}}',
    b'\x02{"spec":{"containers":[{"name":"web","image":"x"},{"name":"new","image":"y"}]}}',
    b'\x02{"spec":{"containers":[{"name":"side","$patch":"delete"}],"$setElementOrder/containers":[{"name":"web"}]}}',
    b'\x02{"metadata":{"$retainKeys":["labels"],"labels":{"a":"b"}}}',
    b'\x03apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\n  labels:\n    app: web\nspec:\n  containers:\n  - name: web\n    image: nginx:2\n',
    b'\x03apiVersion: v1\nkind: Pod\nmetadata:\n  name: web-0\nspec:\n  containers:\n  - name: web\n    env:\n    - name: B\n      value: "2"\n',
]:
    save('api_patch', p)

def query(name, qtype, edns=None, flags=0x0100):
    msg = struct.pack('>HHHHHH', 0x1234, flags, 1, 0, 0, 1 if edns else 0)
    for label in name.strip('.').split('.'):
        msg += bytes([len(label)]) + label.encode()
    msg += b'\0' + struct.pack('>HH', qtype, 1)
    if edns:
        msg += b'\0' + struct.pack('>HHIH', 41, edns, 0, 0)
    return msg

for name, qtype in [('kubernetes.default.svc.cluster.local', 1), ('kubernetes.default.svc.cluster.local', 28),
                    ('_https._tcp.kubernetes.default.svc.cluster.local', 33), ('db.default.svc.cluster.local', 1),
                    ('db-1.db.default.svc.cluster.local', 1), ('_sql._udp.db.default.svc.cluster.local', 33),
                    ('alias.default.svc.cluster.local', 1), ('10-244-2-7.default.pod.cluster.local', 1),
                    ('1.0.96.10.in-addr.arpa', 12), ('cluster.local', 6), ('missing.default.svc.cluster.local', 1),
                    ('example.org', 1)]:
    for limit, edns in [(0, None), (1, 1232), (3, 65535)]:
        save('dns_message', bytes([limit]) + query(name, qtype, edns))
PY
for t in "$out"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) inputs"; done
