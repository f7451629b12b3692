#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""obi in a container-like mount namespace of its own, without the host's bpffs (what the
shipped container setups avoid by mounting /sys/fs/bpf): it mounts a bpffs of its own for the
pinned SOCKHASH and warns, once, that connections pinned there do not survive it; injection
still works. With the host's bpffs (the usual case) there is no such warning."""
import shutil

import obi_harness as h

WARNING = "mounted a bpffs of obi's own"


def main():
    if not shutil.which("unshare"):
        raise h.Skip("unshare is not installed (util-linux)")
    port = h.free_port()
    backend = h.start_backend(port)
    # a mount namespace of its own, where /sys/fs/bpf is no bpffs (a tmpfs over it)
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
               'mount -t tmpfs obi-test /sys/fs/bpf && exec "$0" "$@"']
    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)}, wrapper=wrapper)
    h.wait_propagation_on(obi)
    warned = [l for l in obi.stderr().splitlines() if WARNING in l]
    h.check_eq(len(warned), 1, f"warnings about a private bpffs in obi's log ({warned})")
    h.check("-v /sys/fs/bpf:/sys/fs/bpf" in warned[0],
            f"the warning says how to mount the host's bpffs: {warned[0]!r}")
    h.curl(f"http://127.0.0.1:{port}/r/1")
    obi.wait_spans(1, what="the request's span under a private bpffs")
    obi.stop(expect_total=1)

    obi = h.Obi({"OTEL_EBPF_OPEN_PORT": str(port)})
    h.wait_propagation_on(obi)
    h.check(not [l for l in obi.stderr().splitlines() if WARNING in l],
            "no private-bpffs warning with the host's bpffs")
    obi.stop()
    backend.kill()


h.run(main)
