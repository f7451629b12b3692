#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Bad configuration: exit code 2 and ONE stderr line naming the variable or flag, nothing on
stdout; --help lists the settings and exits 0. Needs no root."""
import subprocess

import obi_harness as h

CASES = [
    # (environment, arguments, name the error line must contain)
    ({"OTEL_EBPF_OPEN_PORT": "70-60"}, [], "OTEL_EBPF_OPEN_PORT"),
    ({"OTEL_EBPF_OPEN_PORT": "abc"}, [], "OTEL_EBPF_OPEN_PORT"),
    ({"OTEL_EBPF_OPEN_PORT": "65536"}, [], "OTEL_EBPF_OPEN_PORT"),
    ({"OTEL_EBPF_OPEN_PORT": "8080", "OTEL_EBPF_TRACE_PRINTER": "xml"}, [],
     "OTEL_EBPF_TRACE_PRINTER"),
    ({"OTEL_EBPF_TARGET_PID": "12x"}, [], "OTEL_EBPF_TARGET_PID"),
    ({"OTEL_EBPF_OPEN_PORT": "8080", "OTEL_EBPF_LOG_LEVEL": "loud"}, [], "OTEL_EBPF_LOG_LEVEL"),
    ({"OTEL_EBPF_OPEN_PORT": "8080", "OTEL_EBPF_BPF_DATA_HOOKS": "kprobes"}, [],
     "OTEL_EBPF_BPF_DATA_HOOKS"),
    ({}, ["--open-port", "99999"], "--open-port"),
    ({}, ["--open-port", "8080", "--trace-printer", "xml"], "--trace-printer"),
    ({}, ["--pid", "abc"], "--pid"),
]

SETTINGS = ["OTEL_EBPF_OPEN_PORT", "OTEL_EBPF_TARGET_PID", "OTEL_EBPF_AUTO_TARGET_EXE",
            "OTEL_EBPF_TRACE_PRINTER", "OTEL_EBPF_LOG_LEVEL", "--open-port", "--pid", "--exe",
            "--trace-printer", "--log-level"]


def run_obi(env, args):
    try:
        return subprocess.run([h.OBI_BIN, *args], stdin=subprocess.DEVNULL,
                              capture_output=True, env=h.clean_env(env), timeout=10)
    except subprocess.TimeoutExpired:
        h.fail(f"obi {' '.join(args)} with {env} did not exit within 10 s (it should reject "
               "the configuration at once)")


def main():
    p = h.Problems()
    for env, args, name in CASES:
        what = " ".join([f"{k}={v}" for k, v in env.items()] + ["obi"] + args)
        r = run_obi(env, args)
        err = [l for l in r.stderr.decode(errors="replace").splitlines() if l.strip()]
        p.eq(f"{what}: exit code", r.returncode, 2)
        p.eq(f"{what}: stdout", r.stdout.decode(errors="replace"), "")
        if len(err) != 1:
            p.append(f"{what}: expected exactly one stderr line, got {len(err)}: {err}")
        elif name not in err[0]:
            p.append(f"{what}: the stderr line should name {name}: {err[0]!r}")

    r = run_obi({}, ["--help"])
    out = r.stdout.decode(errors="replace")
    p.eq("obi --help: exit code", r.returncode, 0)
    for s in SETTINGS:
        p.true(s in out, f"obi --help: stdout should list {s}")
    p.raise_if_any("bad configuration handling\n  (--help stdout:\n" + out + "\n  stderr: "
                   + r.stderr.decode(errors="replace") + ")")


h.run(main, needs_root=False)
