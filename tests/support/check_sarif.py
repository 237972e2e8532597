"""Validate a SARIF file against the official SARIF 2.1.0 JSON schema (the copy serde-sarif
ships, found by the caller) with jsonschema, then check what code scanning needs beyond the
schema: every result names a rule the driver declares and has a physical location. Prints
the rule ids of the results as JSON; exits 1 with the errors otherwise."""
import json
import sys

import jsonschema

doc = json.load(open(sys.argv[1]))
schema = json.load(open(sys.argv[2]))
errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(doc)]
ids = []
for run in doc.get("runs", []):
    declared = {r["id"] for r in run["tool"]["driver"].get("rules", [])}
    for r in run.get("results", []):
        if r.get("ruleId") not in declared:
            errors.append(f"result rule {r.get('ruleId')} is not declared")
        locs = r.get("locations") or [{}]
        if "uri" not in locs[0].get("physicalLocation", {}).get("artifactLocation", {}):
            errors.append(f"result {r.get('ruleId')} has no physical location")
        ids.append(r.get("ruleId"))
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
print(json.dumps(ids))
