# test_fleet.py: unit tests of the collection's eligibility rules, answer
# limits and HTML escaping, without a VM (python3 -m unittest discover -s
# ansible/tests/unit; tests/integration/fleet.bats runs them).

import atexit
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PLUGINS = os.path.join(HERE, "..", "..", "plugins")


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


cli = load("hvpatch_cli", os.path.join(PLUGINS, "module_utils",
                                       "hvpatch_cli.py"))
try:
    report = load("report", os.path.join(PLUGINS, "modules", "report.py"))
except ImportError:  # no ansible-core: the report's tests are skipped
    report = None

BASE = "ee" * 32


def status(patches=(), tpm="ok", enabled=True, baseline=BASE, kind="demo",
           counter=None, log=None):
    st = {"baseline": {"image_sha256": baseline, "kind": kind},
          "tpm": {"state": tpm},
          "patching": {"enabled": enabled,
                       "reason": None if enabled else "no --trust",
                       "audit_log": log},
          "patches": [{"id": i, "seq": s} for i, s in patches]}
    if counter is not None:
        st["tpm"]["counter"] = counter
    return st


def pkg(pid="HP-1", seq=2, baseline=BASE, kind="demo", sha="aa" * 32):
    return {"id": pid, "sequence": seq, "sha256": sha,
            "target": {"baseline_sha256": baseline, "kind": kind}}


class Eligibility(unittest.TestCase):
    def verdict(self, st, p, counter, digest=None):
        return cli.eligibility(st, p, counter, digest)

    def test_newer_sequence_would_apply(self):
        self.assertEqual(self.verdict(status(), pkg(seq=2), 1),
                         ("eligible", "would apply HP-1 (sequence 2)"))

    def test_live_package_is_not_applied_again(self):
        v, msg = self.verdict(status([("HP-1", 2)]), pkg(seq=2), 2)
        self.assertEqual(v, "live")
        self.assertEqual(msg, "HP-1 (sequence 2) is already live")

    def test_equal_sequence_not_live_may_be_reapplied(self):
        # a fresh boot, or after its revert
        self.assertEqual(self.verdict(status(), pkg(seq=2), 2)[0], "eligible")

    def test_equal_sequence_same_package_as_committed(self):
        self.assertEqual(self.verdict(status(), pkg(seq=2), 2, "aa" * 32)[0],
                         "eligible")

    def test_equal_sequence_other_package_than_committed(self):
        v, msg = self.verdict(status(), pkg(seq=2), 2, "bb" * 32)
        self.assertEqual(v, "ineligible")
        self.assertEqual(msg, "ineligible: sequence 2 was committed by "
                              "another package (sha256 " + "bb" * 32 + ")")

    def test_equal_sequence_held_by_another_live_patch(self):
        v, msg = self.verdict(status([("HP-9", 2)]), pkg(seq=2), 2)
        self.assertEqual(v, "ineligible")
        self.assertEqual(msg, "ineligible: sequence 2 is held by live "
                              "patch HP-9")

    def test_older_sequence_never(self):
        v, msg = self.verdict(status(), pkg(seq=1), 2)
        self.assertEqual(v, "ineligible")
        self.assertEqual(msg, "ineligible: sequence 1 is older than the "
                              "VM's committed sequence 2 (anti-rollback)")

    def test_other_baseline_needs_cold_update(self):
        v, msg = self.verdict(status(), pkg(baseline="ab" * 32), 0)
        self.assertEqual(v, "ineligible")
        self.assertEqual(msg, "ineligible: needs a cold update to baseline "
                         + "ab" * 32 + " (kind demo); the VM runs " + BASE +
                         " (kind demo)")

    def test_other_kind_needs_cold_update(self):
        v, msg = self.verdict(status(), pkg(kind="linux"), 0)
        self.assertTrue(msg.startswith("ineligible: needs a cold update"))

    def test_tpm_gone(self):
        self.assertEqual(self.verdict(status(tpm="gone"), pkg(), 0),
                         ("ineligible", "ineligible: the VM's TPM is gone "
                                        "(patching needs it)"))

    def test_patching_disabled(self):
        self.assertEqual(self.verdict(status(enabled=False), pkg(), 0)[1],
                         "ineligible: patching is disabled on the VM "
                         "(no --trust)")


class CommittedSequence(unittest.TestCase):
    def log(self, lines):
        f = tempfile.NamedTemporaryFile("wb", delete=False)
        self.addCleanup(os.unlink, f.name)
        f.write(b"".join(lines))
        f.close()
        return f.name

    def test_status_counter_wins(self):
        self.assertEqual(cli.committed_sequence(status(counter=7)),
                         (7, None, "status"))

    def test_from_audit_log_approved_applies(self):
        recs = [{"event": "approved", "op": "apply", "seq": 3,
                 "package_sha256": "c3"},
                {"event": "approved", "op": "revert", "seq": 9},
                {"event": "rejected", "op": "apply", "seq": 8},
                {"event": "approved", "op": "apply", "seq": 2,
                 "package_sha256": "c2"},
                {"event": "approved", "op": "apply", "seq": 3,
                 "package_sha256": "c3", "reapply": True}]
        path = self.log([(json.dumps(r) + "\n").encode() for r in recs] +
                        [b'{"torn'])
        self.assertEqual(cli.committed_sequence(status(log=path)),
                         (3, "c3", "audit log"))

    def test_no_log_is_unknown(self):
        self.assertEqual(cli.committed_sequence(status()),
                         (None, None, "unknown"))

    def test_overlong_audit_line_is_refused(self):
        path = self.log([b"x" * (cli.MAX_AUDIT_LINE + 1) + b"\n"])
        with self.assertRaisesRegex(cli.HvpatchError, "a line longer than"):
            cli.committed_sequence(status(log=path))


class ParseJson(unittest.TestCase):
    def test_not_json(self):
        with self.assertRaisesRegex(cli.HvpatchError,
                                    "^hvpatch status: answer is not JSON"):
            cli.parse_json("applied", "hvpatch status")

    def test_not_an_object(self):
        with self.assertRaisesRegex(cli.HvpatchError, "not a JSON object"):
            cli.parse_json("[1]", "hvpatch status")

    def test_too_large(self):
        with self.assertRaisesRegex(cli.HvpatchError, "larger than"):
            cli.parse_json(" " * (cli.MAX_JSON_BYTES + 1), "x")


class FakeModule(object):
    """Answers `hvpatch --help` and `hvpatch X --help` from a table."""

    def __init__(self, helps):
        self.helps = helps

    def run_command(self, argv):
        return 0, self.helps.get(tuple(argv[1:]), ""), ""


class Features(unittest.TestCase):
    TOP = ("Commands:\n  run        boot a guest\n"
           "  trust      manage a running VM's trust store\n")

    def test_trust_reload_listed(self):
        hv = cli.Hvpatch(FakeModule({
            ("--help",): self.TOP,
            ("trust", "--help"): "usage: hvpatch trust reload --vm SOCK"}),
            "hvpatch")
        self.assertTrue(hv.has_command(["trust", "reload"]))

    def test_trust_not_listed(self):
        hv = cli.Hvpatch(FakeModule({
            ("--help",): "Commands:\n  run   boot; trust nothing\n"}),
            "hvpatch")
        self.assertFalse(hv.has_command(["trust", "reload"]))

    def test_wait_healthy_option(self):
        hv = cli.Hvpatch(FakeModule({
            ("apply", "--help"): "usage: hvpatch apply --vm S [--json] P"}),
            "hvpatch")
        self.assertFalse(hv.has_option("apply", "--wait-healthy"))


@unittest.skipIf(report is None, "ansible-core not installed")
class Report(unittest.TestCase):
    def test_everything_is_escaped(self):
        evil = '<script>alert("x")</script>&'
        facts = {"status": {"baseline": {"image_sha256": evil, "kind": evil},
                            "patches": [{"id": evil, "seq": 1,
                                         "signer": evil, "applied": evil}]},
                 "attestation": {"verdict": evil},
                 "audit": {"verdict": evil,
                           "last_record": {"event": evil, "id": evil}},
                 "eligibility_msg": evil}
        doc = {"generated": evil,
               "machines": [report.machine_row(evil, facts)]}
        page = report.html_page(evil, doc)
        self.assertNotIn("<script", page)
        self.assertNotIn('"x"', page)
        self.assertIn("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
                      "&amp;", page)

    def test_compliant_needs_the_log_to_agree_with_the_quote(self):
        facts = {"status": {"baseline": {}},
                 "attestation": {"verdict": "verified"},
                 "audit": {"verdict": "verified", "matches_quote": False}}
        self.assertFalse(report.machine_row("vm1", facts)["compliant"])
        facts["audit"]["matches_quote"] = True
        self.assertTrue(report.machine_row("vm1", facts)["compliant"])

    def test_failed_machine_is_a_row_not_compliant(self):
        row = report.machine_row("vm9", {"failed": True, "msg": "no socket"})
        self.assertFalse(row["compliant"])
        self.assertEqual(row["error"], "no socket")
        page = report.html_page("t", {"generated": "now", "machines": [row]})
        self.assertIn('<tr class="bad"><td>vm9</td><td>NOT compliant</td>',
                      page)
        self.assertIn("1 machines, 0 compliant", page)


if __name__ == "__main__":
    unittest.main()


def load_hotpatch():
    """hotpatch.py imports module_utils by its collection path: make that
    path importable from this checkout."""
    root = tempfile.mkdtemp(prefix="hvpatch-coll-")
    atexit.register(shutil.rmtree, root, True)
    os.makedirs(os.path.join(root, "ansible_collections", "hvpatch"))
    os.symlink(os.path.abspath(os.path.join(PLUGINS, "..")),
               os.path.join(root, "ansible_collections", "hvpatch", "fleet"))
    sys.path.insert(0, root)
    return load("hotpatch", os.path.join(PLUGINS, "modules", "hotpatch.py"))


try:
    hotpatch = load_hotpatch()
except ImportError:  # no ansible-core
    hotpatch = None


class Exit(Exception):
    def __init__(self, failed, kw):
        Exception.__init__(self, kw.get("msg"))
        self.failed = failed
        self.kw = kw


class ApplyModule(FakeModule):
    """A stand-in AnsibleModule: commands answered from a table of argv
    tails (status, inspect, help, apply), exit_json/fail_json raise."""

    def __init__(self, answers, params, check_mode=False):
        FakeModule.__init__(self, {})
        self.answers = answers
        self.params = dict(vm="/s", state="applied", package="/p", id=None,
                           trust=None, image=None, wait_healthy=False,
                           health_window=None, attest=False, ak=None,
                           hvpatch="hvpatch")
        self.params.update(params)
        self.check_mode = check_mode
        self.ran = []

    def run_command(self, argv):
        self.ran.append(argv[1:])
        for key, answer in self.answers.items():
            if tuple(argv[1:1 + len(key)]) == key:
                return answer
        return 0, "", ""

    def exit_json(self, **kw):
        raise Exit(False, kw)

    def fail_json(self, **kw):
        raise Exit(True, kw)


@unittest.skipIf(hotpatch is None, "ansible-core not installed")
class Apply(unittest.TestCase):
    STATUS = json.dumps(status(counter=1))
    PKG = json.dumps(pkg(seq=2))

    def run_apply(self, apply_answer, help_text="", check_mode=False,
                  **params):
        m = ApplyModule({("status",): (0, self.STATUS, ""),
                         ("inspect",): (0, self.PKG, ""),
                         ("apply", "--help"): (0, help_text, ""),
                         ("apply", "--vm"): apply_answer}, params,
                        check_mode)
        hv = cli.Hvpatch(m, "hvpatch")
        out = {"status": hv.status("/s")}
        with self.assertRaises(Exit) as e:
            hotpatch.apply(m, hv, out)
        return e.exception, m

    def test_applied(self):
        e, m = self.run_apply((0, '{"op": "apply"}', ""))
        self.assertFalse(e.failed)
        self.assertTrue(e.kw["changed"])
        self.assertEqual(m.ran[-2], ["apply", "--vm", "/s", "--json", "/p"])

    def test_auto_reverted_fails_changed(self):
        e, m = self.run_apply(
            (9, '{"result": "auto-reverted", "reason": "no heartbeat"}', ""),
            help_text="--wait-healthy", wait_healthy=True, health_window=5)
        self.assertTrue(e.failed)
        self.assertTrue(e.kw["changed"])
        self.assertEqual(e.kw["msg"], "auto-reverted: the guest failed after "
                         "the patch and hvpatch reverted it (no heartbeat)")
        self.assertIn(["apply", "--vm", "/s", "--json", "--wait-healthy",
                       "--health-window", "5", "/p"], m.ran)

    def test_refused(self):
        e, _ = self.run_apply((4, "", "hvpatch apply: VRF_ERR_SIG_INVALID"))
        self.assertTrue(e.failed)
        self.assertFalse(e.kw["changed"])
        self.assertEqual(e.kw["msg"], "apply refused (exit 4): hvpatch "
                         "apply: VRF_ERR_SIG_INVALID")

    def test_guest_died_is_a_change(self):
        e, _ = self.run_apply((3, "", "guest died"))
        self.assertTrue(e.failed)
        self.assertTrue(e.kw["changed"])
        self.assertIn("the guest died and was not repaired", e.kw["msg"])

    def test_wait_healthy_unsupported(self):
        e, m = self.run_apply((0, "{}", ""), help_text="usage: apply",
                              wait_healthy=True)
        self.assertTrue(e.failed)
        self.assertTrue(e.kw["msg"].startswith(
            "wait_healthy: this hvpatch's `apply` has no --wait-healthy"))
        self.assertFalse(any(a[:2] == ["apply", "--vm"] for a in m.ran))

    def test_check_mode_runs_no_apply(self):
        e, m = self.run_apply((0, "{}", ""), check_mode=True)
        self.assertFalse(e.failed)
        self.assertTrue(e.kw["changed"])
        self.assertEqual(e.kw["msg"], "would apply HP-1 (sequence 2)")
        self.assertFalse(any(a[:2] == ["apply", "--vm"] for a in m.ran))
