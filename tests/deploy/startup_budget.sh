#!/bin/sh
# tests/deploy/startup_budget.sh — every start-up allowance in the deployment files covers a hub
# model's download: the compose healthcheck's start_period, the image's HEALTHCHECK --start-period
# and each Kubernetes startupProbe (periodSeconds x failureThreshold) are at least BUDGET seconds.
# A replica fetching deit-base (~350 MB) on a slow link was declared unhealthy after ~90 s, and
# nginx (depends_on: service_healthy) never started. Static: reads the files, runs nothing.
set -eu
cd "$(dirname "$0")/../.."
BUDGET=${BUDGET:-600}
# /usr/bin/python3: yamllint's interpreter, so PyYAML is there whenever the lint stage can run
/usr/bin/python3 - "$BUDGET" <<'PY'
import glob, re, sys
import yaml

budget = int(sys.argv[1])
bad = []

def seconds(d):
    """A compose/Docker duration ("600s", "10m", "1m30s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)", str(d))
    if not parts or "".join(a + u for a, u in parts) != str(d):
        raise ValueError(f"unreadable duration {d!r}")
    return sum(float(a) * units[u] for a, u in parts)

def check(where, secs):
    if secs < budget:
        bad.append(f"{where}: {secs:g} s, under {budget} s")

compose = yaml.safe_load(open("deploy/compose.yaml"))
n = 0
for name, svc in compose["services"].items():
    hc = svc.get("healthcheck")
    if not hc or "deit-server" not in str(svc.get("image", "")):
        continue
    n += 1
    check(f"deploy/compose.yaml {name} healthcheck start_period", seconds(hc.get("start_period", "0s")))
if n == 0:
    bad.append("deploy/compose.yaml: no deit-server service with a healthcheck")

hc = re.search(r"^HEALTHCHECK\b.*?--start-period=(\S+)", open("Dockerfile").read(), re.M)
if not hc:
    bad.append("Dockerfile: HEALTHCHECK has no --start-period")
else:
    check("Dockerfile HEALTHCHECK --start-period", seconds(hc.group(1)))

probes = 0
for path in sorted(glob.glob("deploy/k8s/**/*.yaml", recursive=True)):
    for doc in yaml.safe_load_all(open(path)):
        stack = [doc]
        while stack:  # every container anywhere in the document (Deployment, predictor, runtime)
            node = stack.pop()
            if isinstance(node, dict):
                p = node.get("startupProbe")
                if isinstance(p, dict):
                    probes += 1
                    # Kubernetes' defaults: periodSeconds 10, failureThreshold 3
                    secs = p.get("periodSeconds", 10) * p.get("failureThreshold", 3)
                    check(f"{path} {node.get('name', '?')} startupProbe (periodSeconds x failureThreshold)", secs)
                stack.extend(node.values())
            elif isinstance(node, list):
                stack.extend(node)
if probes == 0:
    bad.append("deploy/k8s: no startupProbe found")

for b in bad:
    print("FAIL: " + b, file=sys.stderr)
if bad:
    sys.exit(1)
print(f"ok - start-up allowances: compose, Dockerfile and {probes} startupProbe(s) cover {budget} s")
PY
