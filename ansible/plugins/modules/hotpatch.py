#!/usr/bin/python
# hotpatch.py: the hvpatch.fleet.hotpatch module: facts, eligibility, apply,
# revert and trust reload for one VM, through its local control socket and
# `hvpatch ... --json`.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: hotpatch
short_description: Live-patch a VM running under hvpatch on this host
description:
  - Talks to one VM's control socket on the managed host by running
    C(hvpatch ... --json) there. Reports facts (baseline, live patches,
    TPM state, committed sequence), judges a package's eligibility,
    applies or reverts it, reloads the VM's trust store.
  - Idempotent. Applying a package that is already live is C(ok), not
    C(changed); reverting one that is not live likewise.
  - "Check mode runs only read-only commands and reports
    C(would apply) or C(ineligible: <why>) without touching the VM."
options:
  vm:
    description: Path of the VM's control socket (C(hvpatch run --control)).
    type: path
    required: true
  state:
    description:
      - C(facts) reads only. With I(attest), also a fresh TPM quote
        checked by C(hvpatch verify-attestation), and the audit log
        checked by C(hvpatch audit verify --attestation) against it.
      - C(applied) applies I(package) unless it is live.
      - C(reverted) reverts I(id) (or I(package)'s id) if it is live.
      - C(trust_reloaded) runs C(hvpatch trust reload), where this
        hvpatch has it.
    type: str
    choices: [facts, applied, reverted, trust_reloaded]
    default: facts
  package:
    description: A signed package file on the managed host.
    type: path
  id:
    description: The patch id to revert (default, I(package)'s id).
    type: str
  trust:
    description:
      - A trust store (anchors/, crls/) on the managed host. With
        I(image), eligibility also runs C(hvpatch verify) offline
        (chain, revocation, signature, pre-images).
    type: path
  image:
    description: The guest image the VM booted, for the offline check.
    type: path
  wait_healthy:
    description:
      - Apply with C(--wait-healthy) - the VM's monitor watches the guest
        for I(health_window) seconds and reverts the patch by itself if
        the guest fails. Fails with a clear message if this hvpatch's
        C(apply --help) does not list it.
    type: bool
    default: false
  health_window:
    description: Seconds to watch the guest (C(--health-window)).
    type: int
  attest:
    description: With I(state=facts), also attest and check the audit log.
    type: bool
    default: false
  ak:
    description: The AK public key to pin for I(attest) (TPM2B_PUBLIC).
    type: path
  hvpatch:
    description: The hvpatch binary on the managed host.
    type: path
    default: hvpatch
"""

EXAMPLES = r"""
- name: Apply the fix, watching the guest for 10 s
  hvpatch.fleet.hotpatch:
    vm: /run/hvpatch/web-1.sock
    state: applied
    package: /srv/hotpatches/HP-2026-0001.signed
    trust: /etc/hvpatch/trust
    image: /srv/guests/web.elf
    wait_healthy: true
    health_window: 10
"""

RETURN = r"""
status:
  description: C(hvpatch status --json) after the action.
  returned: always
  type: dict
eligibility:
  description: live, eligible or ineligible.
  returned: when a package is given
  type: str
eligibility_msg:
  description: "Why, e.g. C(ineligible: needs a cold update to baseline X)."
  returned: when a package is given
  type: str
result:
  description: C(hvpatch apply --json) or C(revert --json)'s answer.
  returned: when apply or revert ran
  type: dict
"""

import json
import os
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hvpatch.fleet.plugins.module_utils.hvpatch_cli import (
    EXIT_AUTO_REVERTED, EXIT_GUEST_DIED, EXIT_OK, EXIT_REFUSED,
    EXIT_UNREACHABLE, Hvpatch, HvpatchError, committed_sequence,
    eligibility, live_patch, offline_verify, parse_json)


def package_eligibility(module, hv, status):
    """Inspects the package and judges it; returns (pkg, verdict, msg,
    committed sequence, where that came from)."""
    p = module.params
    pkg = hv.inspect(p["package"])
    counter, digest, source = committed_sequence(status)
    verdict, msg = eligibility(status, pkg, counter, digest)
    if verdict == "eligible" and p["trust"] and p["image"]:
        reason = offline_verify(hv, p["package"], p["trust"], p["image"],
                                status, pkg)
        if reason:
            verdict, msg = "ineligible", "ineligible: %s" % reason
    return pkg, verdict, msg, counter, source


def facts(module, hv, out):
    p = module.params
    status = out["status"]
    if p["package"]:
        pkg, verdict, msg, _, _ = package_eligibility(module, hv, status)
        out.update(package=pkg_summary(pkg), eligibility=verdict,
                   eligibility_msg=msg)
    if p["attest"]:
        out["attestation"], out["audit"] = evidence(module, hv, status)
    module.exit_json(changed=False, **out)


def pkg_summary(pkg):
    return {"id": pkg.get("id"), "sequence": pkg.get("sequence"),
            "target": pkg.get("target"), "sha256": pkg.get("sha256")}


def evidence(module, hv, status):
    """A fresh quote with a random nonce, checked by verify-attestation
    against that nonce and the VM's baseline; then the VM's audit log
    checked by `audit verify`, against that quote too. Returns
    (attestation, audit)."""
    nonce = os.urandom(16).hex()
    tmp = tempfile.mkdtemp(prefix="hvpatch-attest-")
    try:
        d = os.path.join(tmp, "att")
        rc, out, err = hv.run(["attest", "--vm", module.params["vm"],
                               "--nonce", nonce, "--out", d])
        if rc != 0:
            att = {"verdict": "failed", "detail": (err or out).strip()}
            return att, audit_verify(hv, status, None)
        base = status.get("baseline") or {}
        args = ["verify-attestation", d, "--nonce", nonce, "--baseline",
                str(base.get("image_sha256")), "--kind",
                str(base.get("kind"))]
        if module.params["ak"]:
            args += ["--ak", module.params["ak"]]
        rc, out, err = hv.run(args)
        att = {"verdict": "verified" if rc == 0 else "failed",
               "nonce": nonce, "ak_pinned": bool(module.params["ak"]),
               "detail": (out if rc == 0 else err or out).strip()}
        return att, audit_verify(hv, status, d if rc == 0 else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def audit_verify(hv, status, attestation):
    """`hvpatch audit verify` of the VM's audit log (with --attestation:
    its PCR 10 records equal the quoted events), and its last record."""
    log = (status.get("patching") or {}).get("audit_log")
    if not log:
        return {"verdict": "no audit log"}
    args = ["audit", "verify", log, "--json"]
    if attestation:
        args += ["--attestation", attestation]
    rc, out, err = hv.run(args)
    res = {"verdict": "verified" if rc == 0 else "failed", "log": log,
           "matches_quote": bool(attestation) and rc == 0}
    if rc != 0:
        res["detail"] = (err or out).strip()
    try:
        res["summary"] = parse_json(out, "hvpatch audit verify")
    except HvpatchError:
        pass
    res["last_record"] = last_record(log)
    return res


def last_record(log):
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(f.tell() - 65536, 0))
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        return json.loads(lines[-1]) if lines else None
    except (OSError, ValueError):
        return None


def apply(module, hv, out):
    p = module.params
    if not p["package"]:
        module.fail_json(msg="state=applied needs package", **out)
    pkg, verdict, msg, counter, source = package_eligibility(
        module, hv, out["status"])
    out.update(package=pkg_summary(pkg), eligibility=verdict,
               eligibility_msg=msg, committed_sequence=counter,
               committed_sequence_from=source)
    if verdict == "live":
        module.exit_json(changed=False, msg=msg, **out)
    if verdict == "ineligible":
        if module.check_mode:
            # check mode reports, for every host, and changes nothing
            module.exit_json(changed=False, msg=msg, **out)
        module.fail_json(msg=msg, **out)
    args = ["apply", "--vm", p["vm"], "--json"]
    if p["wait_healthy"]:
        if not hv.has_option("apply", "--wait-healthy"):
            module.fail_json(msg="wait_healthy: this hvpatch's `apply` has "
                             "no --wait-healthy (automatic revert); update "
                             "hvpatch or set wait_healthy: false", **out)
        args.append("--wait-healthy")
        if p["health_window"] is not None:
            args += ["--health-window", str(p["health_window"])]
    if module.check_mode:
        module.exit_json(changed=True, msg=msg, **out)
    run_change(module, hv, out, args + [p["package"]], "apply")


def revert(module, hv, out):
    p = module.params
    pid = p["id"]
    if not pid and p["package"]:
        pid = hv.inspect(p["package"]).get("id")
    if not pid:
        module.fail_json(msg="state=reverted needs id or package", **out)
    if live_patch(out["status"], pid) is None:
        module.exit_json(changed=False, msg="%s is not live" % pid, **out)
    if module.check_mode:
        module.exit_json(changed=True, msg="would revert %s" % pid, **out)
    run_change(module, hv, out, ["revert", "--vm", p["vm"], "--json", pid],
               "revert")


def run_change(module, hv, out, args, what):
    """Runs apply or revert and reports it by its exit status."""
    rc, stdout, stderr = hv.run(args)
    try:
        out["result"] = parse_json(stdout, "hvpatch " + what)
    except HvpatchError:
        out["result"] = {}
    out["rc"] = rc
    try:
        out["status"] = hv.status(module.params["vm"])
    except HvpatchError:
        pass  # the VM may be gone: rc says so
    detail = (stderr or stdout).strip()
    if rc == EXIT_OK:
        module.exit_json(changed=True, msg="%s done" % what, **out)
    if rc == EXIT_AUTO_REVERTED:
        module.fail_json(changed=True, msg="auto-reverted: the guest failed "
                         "after the patch and hvpatch reverted it (%s)" %
                         out["result"].get("reason", detail), **out)
    why = {EXIT_GUEST_DIED: "the guest died and was not repaired",
           EXIT_REFUSED: "refused",
           EXIT_UNREACHABLE: "the VM or the package cannot be reached"}
    module.fail_json(changed=rc == EXIT_GUEST_DIED,
                     msg="%s %s (exit %d): %s" %
                     (what, why.get(rc, "failed"), rc, detail), **out)


def trust_reload(module, hv, out):
    if not hv.has_command(["trust", "reload"]):
        module.fail_json(msg="this hvpatch has no `trust reload`; restart "
                         "the VM to load a new trust store", **out)
    if module.check_mode:
        module.exit_json(changed=True, msg="would reload the trust store",
                         **out)
    rc, stdout, stderr = hv.run(["trust", "reload", "--vm",
                                 module.params["vm"], "--json"])
    if rc != 0:
        module.fail_json(msg="trust reload failed (exit %d): %s" %
                         (rc, (stderr or stdout).strip()), **out)
    module.exit_json(changed=True, msg="trust store reloaded", **out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            vm=dict(type="path", required=True),
            state=dict(type="str", default="facts",
                       choices=["facts", "applied", "reverted",
                                "trust_reloaded"]),
            package=dict(type="path"),
            id=dict(type="str"),
            trust=dict(type="path"),
            image=dict(type="path"),
            wait_healthy=dict(type="bool", default=False),
            health_window=dict(type="int"),
            attest=dict(type="bool", default=False),
            ak=dict(type="path"),
            hvpatch=dict(type="path", default="hvpatch"),
        ),
        supports_check_mode=True,
    )
    binary = module.params["hvpatch"]
    if os.sep not in binary:
        binary = module.get_bin_path(binary, required=True)
    hv = Hvpatch(module, binary)
    out = {}
    try:
        out["status"] = hv.status(module.params["vm"])
        state = module.params["state"]
        if state == "facts":
            facts(module, hv, out)
        elif state == "applied":
            apply(module, hv, out)
        elif state == "reverted":
            revert(module, hv, out)
        else:
            trust_reload(module, hv, out)
    except HvpatchError as e:
        module.fail_json(msg=str(e), **out)


if __name__ == "__main__":
    main()
