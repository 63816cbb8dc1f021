# hvpatch_cli.py: runs `hvpatch ... --json` for the collection's modules and
# decides whether a signed package is eligible for a running VM.
#
# Eligibility composes existing commands only: `hvpatch inspect PKG --json`
# (the package's baseline and sequence), `hvpatch status --vm SOCK --json`
# (the VM's baseline, live patches and TPM state) and, when a trust store and
# the guest image are given, `hvpatch verify` (chain, revocation, signature,
# pre-images, offline). The verifier inside the VM still makes the decision
# that counts; this only predicts it for check mode and for a rollout.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

# Exit statuses of `hvpatch apply` (README, "Applying a patch live").
EXIT_OK = 0
EXIT_USAGE = 1
EXIT_UNREACHABLE = 2
EXIT_GUEST_DIED = 3
EXIT_REFUSED = 4
EXIT_AUTO_REVERTED = 9

# A status or inspect answer larger than this is not hvpatch's.
MAX_JSON_BYTES = 1 << 20
# The verifier's audit log lines are at most 4096 bytes with the newline
# (VRF_AUDIT_LINE_MAX, docs/AUDIT.md).
MAX_AUDIT_LINE = 4096


class HvpatchError(Exception):
    """A command failed; rc is its exit status (None: it did not run)."""

    def __init__(self, msg, rc=None, result=None):
        Exception.__init__(self, msg)
        self.rc = rc
        self.result = result


class Hvpatch(object):
    """The hvpatch binary, run through AnsibleModule.run_command."""

    def __init__(self, module, binary):
        self.module = module
        self.binary = binary

    def run(self, args):
        rc, out, err = self.module.run_command([self.binary] + args)
        return rc, out, err

    def json(self, args, what):
        rc, out, err = self.run(args)
        if rc != 0:
            raise HvpatchError("%s failed (exit %d): %s" %
                               (what, rc, (err or out).strip()), rc)
        return parse_json(out, what)

    def has_option(self, command, option):
        """True if `hvpatch COMMAND --help` lists OPTION."""
        rc, out, err = self.run([command, "--help"])
        return option in (out + err)

    def has_command(self, words):
        """True if `hvpatch --help` lists the command WORDS[0] (and, when
        given, `hvpatch WORDS[0] --help` lists WORDS[1])."""
        rc, out, err = self.run(["--help"])
        listed = any(line.split()[:1] == [words[0]]
                     for line in (out + err).splitlines())
        if not listed or len(words) < 2:
            return listed
        return self.has_option(words[0], words[1])

    def status(self, vm):
        return self.json(["status", "--vm", vm, "--json"], "hvpatch status")

    def inspect(self, package):
        return self.json(["inspect", package, "--json"], "hvpatch inspect")


def parse_json(text, what):
    if len(text) > MAX_JSON_BYTES:
        raise HvpatchError("%s: answer larger than %d bytes" %
                           (what, MAX_JSON_BYTES))
    try:
        value = json.loads(text)
    except ValueError as e:
        raise HvpatchError("%s: answer is not JSON: %s" % (what, e))
    if not isinstance(value, dict):
        raise HvpatchError("%s: answer is not a JSON object" % what)
    return value


def committed_sequence(status):
    """The VM's committed anti-rollback sequence (the TPM NV counter), the
    SHA-256 of the package that committed it (None if unknown), and where
    they came from. status's tpm.counter when the monitor reports it; else
    the VM's audit log: the highest sequence approved for an apply (the
    verifier commits the counter before it logs `approved`) and the
    package that approved record names."""
    tpm = status.get("tpm") or {}
    for key in ("counter", "nv_counter", "sequence"):
        if isinstance(tpm.get(key), int):
            return tpm[key], None, "status"
    log = (status.get("patching") or {}).get("audit_log")
    if not log or not os.path.isfile(log):
        return None, None, "unknown"
    best, digest = 0, None
    with open(log, "rb") as f:
        for line in f:
            if len(line) > MAX_AUDIT_LINE:
                raise HvpatchError("audit log %s: a line longer than %d "
                                   "bytes" % (log, MAX_AUDIT_LINE))
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line: `hvpatch audit verify` says so
            if (isinstance(rec, dict) and rec.get("event") == "approved" and
                    rec.get("op") == "apply" and
                    isinstance(rec.get("seq"), int) and rec["seq"] > best):
                best, digest = rec["seq"], rec.get("package_sha256")
    return best, digest, "audit log"


def live_patch(status, pkg_id):
    for p in status.get("patches") or []:
        if p.get("id") == pkg_id:
            return p
    return None


def eligibility(status, pkg, counter, committed_digest=None):
    """Returns (verdict, message): verdict is "live" (already applied),
    "eligible" or "ineligible". The sequence rule (README, "Applying a
    patch live"): above the committed counter; or equal to it when it is
    the package that committed it (committed_digest, when known) and it
    is not live (a fresh boot, or after its revert); older never."""
    target = pkg.get("target") or {}
    want = target.get("baseline_sha256")
    kind = target.get("kind")
    base = status.get("baseline") or {}
    seq = pkg.get("sequence")
    pid = pkg.get("id")

    live = live_patch(status, pid)
    if live is not None and live.get("seq") == seq:
        return "live", "%s (sequence %s) is already live" % (pid, seq)
    if base.get("image_sha256") != want or base.get("kind") != kind:
        return "ineligible", (
            "ineligible: needs a cold update to baseline %s (kind %s); "
            "the VM runs %s (kind %s)" %
            (want, kind, base.get("image_sha256"), base.get("kind")))
    tpm = (status.get("tpm") or {}).get("state")
    if tpm != "ok":
        return "ineligible", ("ineligible: the VM's TPM is %s (patching "
                              "needs it)" % tpm)
    patching = status.get("patching") or {}
    if not patching.get("enabled"):
        return "ineligible", ("ineligible: patching is disabled on the VM "
                              "(%s)" % patching.get("reason"))
    if counter is not None and isinstance(seq, int):
        if seq < counter:
            return "ineligible", (
                "ineligible: sequence %d is older than the VM's committed "
                "sequence %d (anti-rollback)" % (seq, counter))
        if (seq == counter and committed_digest and
                pkg.get("sha256") != committed_digest):
            return "ineligible", (
                "ineligible: sequence %d was committed by another package "
                "(sha256 %s)" % (seq, committed_digest))
        holder = [p.get("id") for p in status.get("patches") or []
                  if p.get("seq") == seq and p.get("id") != pid]
        if seq == counter and holder:
            return "ineligible", (
                "ineligible: sequence %d is held by live patch %s" %
                (seq, holder[0]))
    return "eligible", "would apply %s (sequence %s)" % (pid, seq)


def offline_verify(hv, package, trust, image, status, pkg):
    """Runs `hvpatch verify` with the VM's baseline; returns None if the
    package passes, else the reason. The sequence was judged already, so
    the floor given is just below the package's own."""
    base = status.get("baseline") or {}
    seq = pkg.get("sequence") or 0
    args = ["verify", package, "--trust", trust, "--image", image,
            "--kind", str(base.get("kind")), "--seq", str(max(seq - 1, 0)),
            "--json"]
    rc, out, err = hv.run(args)
    if rc == 0:
        return None
    try:
        reason = parse_json(out, "hvpatch verify").get("reason") or {}
        return "%s: %s" % (reason.get("name"), reason.get("message"))
    except HvpatchError:
        return (err or out).strip() or "hvpatch verify exit %d" % rc
