#!/usr/bin/python
# report.py: the hvpatch.fleet.report module: one JSON document and one
# static HTML page from every VM's hvpatch.fleet.hotpatch facts.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: report
short_description: Write a fleet compliance report (JSON and HTML)
description:
  - Takes the registered results of C(hvpatch.fleet.hotpatch) with
    C(state=facts attest=true) for every VM and writes one JSON document
    and one self-contained HTML page - per machine - baseline, live
    patches and their signers, attestation verdict, audit-log verdict and
    last record, and eligibility for a package.
  - Everything that goes into the HTML is escaped.
options:
  machines:
    description: Map of machine name to its hotpatch facts result.
    type: dict
    required: true
  json_path:
    description: Where to write the JSON document.
    type: path
    required: true
  html_path:
    description: Where to write the HTML page.
    type: path
    required: true
  title:
    description: The page's title.
    type: str
    default: hvpatch fleet compliance report
"""

import datetime
import html
import json
import os

from ansible.module_utils.basic import AnsibleModule

# A report larger than this is a mistake upstream, not a fleet.
MAX_MACHINES = 10000


def machine_row(name, facts):
    """The report's record for one machine, from its facts result."""
    st = facts.get("status") or {}
    att = facts.get("attestation") or {}
    aud = facts.get("audit") or {}
    last = aud.get("last_record") or {}
    base = st.get("baseline") or {}
    row = {
        "machine": name,
        "reachable": not facts.get("failed") and bool(st),
        "error": facts.get("msg") if facts.get("failed") else None,
        "baseline": {"sha256": base.get("image_sha256"),
                     "kind": base.get("kind")},
        "tpm": (st.get("tpm") or {}).get("state"),
        "code_sha256": (st.get("code") or {}).get("sha256"),
        "patches": [{"id": p.get("id"), "sequence": p.get("seq"),
                     "applied": p.get("applied"), "signer": p.get("signer")}
                    for p in st.get("patches") or []],
        "attestation": {"verdict": att.get("verdict", "not run"),
                        "ak_pinned": att.get("ak_pinned", False),
                        "detail": att.get("detail")},
        "audit": {"verdict": aud.get("verdict", "not run"),
                  "matches_quote": aud.get("matches_quote", False),
                  "detail": aud.get("detail"),
                  "log": aud.get("log"),
                  "records": (aud.get("summary") or {}).get("records"),
                  "last_record": {"n": last.get("n"),
                                  "event": last.get("event"),
                                  "id": last.get("id"),
                                  "time": last.get("time")}},
        "eligibility": facts.get("eligibility_msg"),
    }
    row["compliant"] = (row["reachable"] and
                        row["attestation"]["verdict"] == "verified" and
                        row["audit"]["verdict"] == "verified" and
                        row["audit"]["matches_quote"])
    return row


def cell(value, cls=None):
    """One escaped table cell; class "h" lets a digest wrap anywhere."""
    text = html.escape("" if value is None else str(value))
    if cls:
        return '<td class="%s">%s</td>' % (cls, text)
    return "<td>%s</td>" % text


def patches_cell(patches):
    if not patches:
        return cell("none")
    items = "".join("<li>%s (sequence %s), signed by %s, %s</li>" % tuple(
        html.escape(str(p.get(k))) for k in ("id", "sequence", "signer",
                                             "applied"))
        for p in patches)
    return "<td><ul>%s</ul></td>" % items


def html_page(title, doc):
    rows = []
    for r in doc["machines"]:
        last = r["audit"]["last_record"]
        att = r["attestation"]["verdict"]
        if att == "verified" and not r["attestation"]["ak_pinned"]:
            att += " (AK not pinned)"
        rows.append(
            '<tr class="%s">' % ("ok" if r["compliant"] else "bad") +
            cell(r["machine"]) +
            cell("compliant" if r["compliant"] else "NOT compliant") +
            cell("%s (%s)" % (r["baseline"]["sha256"],
                              r["baseline"]["kind"]), "h") +
            patches_cell(r["patches"]) + cell(att) +
            cell(r["audit"]["verdict"] +
                 (" (agrees with the quote)" if r["audit"]["matches_quote"]
                  else "")) +
            cell("#%s %s %s %s" % (last["n"], last["event"],
                                   last["id"] or "", last["time"])) +
            cell(r["eligibility"] or "no package asked") +
            cell(r["error"] or "") + "</tr>")
    esc = html.escape
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>%s</title>
<style>
body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; width: 100%%; }
th, td { border: 1px solid #999; padding: 4px 8px; text-align: left;
         vertical-align: top; font-size: 13px; overflow-wrap: break-word; }
td.h { overflow-wrap: anywhere; }
tr.ok td:first-child { border-left: 6px solid #2a2; }
tr.bad td:first-child { border-left: 6px solid #c22; }
ul { margin: 0; padding-left: 1.2em; }
@page { size: A4 landscape; margin: 1cm; }
@media print { body { margin: 0; } th, td { font-size: 9px; } }
</style></head><body>
<h1>%s</h1>
<p>Generated %s. %d machines, %d compliant (reachable, a fresh TPM quote
verified, the audit log verified and in agreement with that quote).</p>
<table>
<thead><tr><th>machine</th><th>verdict</th><th>baseline (kind)</th>
<th>live patches and signers</th><th>attestation</th><th>audit log</th>
<th>last audit record</th><th>eligibility</th><th>error</th></tr></thead>
<tbody>
%s
</tbody></table></body></html>
""" % (esc(title), esc(title), esc(doc["generated"]), len(doc["machines"]),
       sum(1 for r in doc["machines"] if r["compliant"]), "\n".join(rows))


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            machines=dict(type="dict", required=True),
            json_path=dict(type="path", required=True),
            html_path=dict(type="path", required=True),
            title=dict(type="str", default="hvpatch fleet compliance report"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if len(p["machines"]) > MAX_MACHINES:
        module.fail_json(msg="report: more than %d machines" % MAX_MACHINES)
    now = datetime.datetime.now(datetime.timezone.utc)
    doc = {"generated": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "machines": [machine_row(n, f or {})
                        for n, f in sorted(p["machines"].items())]}
    doc["compliant"] = all(r["compliant"] for r in doc["machines"])
    # a report changes nothing on the fleet: it is written in check mode too
    write(p["json_path"], json.dumps(doc, indent=2, sort_keys=True) + "\n")
    write(p["html_path"], html_page(p["title"], doc))
    module.exit_json(changed=True, report=doc)


if __name__ == "__main__":
    main()
