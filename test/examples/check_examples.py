#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The obi settings the examples ship load as they are meant to, without root or Docker:

- every obi YAML file under examples/ (obi*.yaml): `obi --config FILE --print-config` exits 0,
  warns about nothing, and holds the values listed in EXPECT;
- every compose file's obi service: its environment (and the YAML file it mounts, mapped back
  to the example's folder) gives the same with `obi --print-config`.

Usage: check_examples.py OBI_BIN EXAMPLES_DIR   (exit 0 pass, 1 fail, 77 skip)"""
import os
import re
import shutil
import subprocess
import sys

# What --print-config must show, per file (relative to EXAMPLES_DIR): lines, whole.
EXPECT = {
    "docker-compose/collector/obi.yaml": [
        "log_level: info  # line 3 of the file",
        "trace_printer: text  # line 4 of the file",
        '  endpoint: "http://otel-collector:4318/v1/traces"  # line 12 of the file',
        '  endpoint: "http://otel-collector:4318/v1/metrics"  # line 9 of the file',
        "  interval: 15s  # line 10 of the file",
        "    - open_ports: 8080",
    ],
    "docker-compose/collector/docker-compose.yml": [
        "trace_printer: text  # line 4 of the file",
        '  endpoint: "http://otel-collector:4318/v1/traces"  # line 12 of the file',
        "    - open_ports: 8080",
    ],
    "docker-compose/prometheus/docker-compose.yml": [
        "open_port: 8080  # OTEL_EBPF_OPEN_PORT",
        "  port: 9400  # OTEL_EBPF_PROMETHEUS_PORT",
        "  path: /metrics  # default",
    ],
    "docker-compose/envoy-tcp-proxy/docker-compose.yml": [
        "open_port: 8000  # OTEL_EBPF_OPEN_PORT",
        "trace_printer: text  # OTEL_EBPF_TRACE_PRINTER",
    ],
    "docker-compose/envoy-tcp-proxy/docker-compose.two-envoys.yml": [
        "open_port: 8000-9000  # OTEL_EBPF_OPEN_PORT",
        "trace_printer: text  # OTEL_EBPF_TRACE_PRINTER",
    ],
}

failures = []


def fail(what):
    failures.append(what)
    print(f"FAIL: {what}", file=sys.stderr)


def print_config(obi, env, args, label):
    r = subprocess.run([obi, "--print-config", *args], env=env, capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        fail(f"{label}: obi --print-config exited {r.returncode}: {r.stderr.strip()}")
        return None
    if r.stderr:
        fail(f"{label}: obi printed warnings: {r.stderr.strip()}")
    want = EXPECT.get(label)
    if want is None:
        fail(f"{label}: no expected values listed in {os.path.basename(__file__)}")
    for line in want or []:
        if line not in r.stdout.splitlines():
            fail(f"{label}: --print-config lacks the line {line!r}; it printed:\n{r.stdout}")
    return r.stdout


def obi_service(normalized):
    """The environment and volumes of the service built from this repository (image obi:local)
    in `docker-compose config` output (normalized YAML: two-space indents, KEY: value)."""
    services, name, env, vols, key = {}, None, {}, [], None
    for line in normalized.splitlines():
        m = re.match(r"^  (\S[^:]*):$", line)
        if m:
            if name:
                services[name] = (env, vols)
            name, env, vols, key = m.group(1), {}, [], None
            continue
        m = re.match(r"^    (\w+):", line)
        if m:
            key = m.group(1)
            if key == "image" and line.split(":", 1)[1].strip() == "obi:local":
                env["__obi__"] = "1"
            continue
        if key == "environment":
            m = re.match(r"^      (\w+): ?(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2).strip().strip("'\"")
        elif key == "volumes":
            m = re.match(r"^    - (.*)$", line)
            if m:
                vols.append(m.group(1))
    if name:
        services[name] = (env, vols)
    return [(n, e, v) for n, (e, v) in services.items() if e.pop("__obi__", None)]


def check_compose(obi, compose, label):
    r = subprocess.run(["docker-compose", "-f", compose, "config"], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        fail(f"{label}: docker-compose config exited {r.returncode}: {r.stderr.strip()}")
        return
    found = obi_service(r.stdout)
    if len(found) != 1:
        fail(f"{label}: expected one service with image obi:local, found {len(found)}")
        return
    _, env, vols = found[0]
    path = env.get("OTEL_EBPF_CONFIG_PATH")
    if path:
        # normalized volumes are "HOST:CONTAINER[:ro]" with absolute host paths
        hosts = [v.split(":")[0] for v in vols if v.split(":")[1:2] == [path]]
        if not hosts:
            fail(f"{label}: OTEL_EBPF_CONFIG_PATH={path} is not a mounted file")
            return
        env["OTEL_EBPF_CONFIG_PATH"] = hosts[0]
    print_config(obi, {"PATH": os.environ.get("PATH", ""), **env}, [], label)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    obi, root = sys.argv[1], sys.argv[2]
    if not os.access(obi, os.X_OK):
        print(f"skip: no obi binary at {obi}", file=sys.stderr)
        return 77
    clean = {"PATH": os.environ.get("PATH", "")}
    composes, configs = [], []
    for d, _, files in os.walk(root):
        for f in sorted(files):
            rel = os.path.relpath(os.path.join(d, f), root)
            if re.match(r"docker-compose.*\.ya?ml$", f):
                composes.append(rel)
            elif re.match(r"obi.*\.ya?ml$", f):
                configs.append(rel)
    for rel in sorted(configs):
        print_config(obi, clean, ["--config", os.path.join(root, rel)], rel)
    if shutil.which("docker-compose"):
        for rel in sorted(composes):
            check_compose(obi, os.path.join(root, rel), rel)
    else:
        print("note: docker-compose is not installed (scripts/install-deps.sh installs it): "
              "the compose files' obi environments are not checked", file=sys.stderr)
        composes = [c for c in composes if c not in EXPECT]
    missing = set(EXPECT) - set(configs) - set(composes)
    for rel in sorted(missing):
        fail(f"{rel}: listed in EXPECT but not found")
    print(f"checked {len(configs)} obi config file(s) and {len(composes)} compose file(s): "
          f"{'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
