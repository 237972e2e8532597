"""Read a JUnit XML report with junitparser (an independent reader) and print its test cases
as JSON: [{"name", "classname", "failed", "message"}]."""
import json
import sys

from junitparser import JUnitXml

cases = []
for suite in JUnitXml.fromfile(sys.argv[1]):
    for case in suite:
        failed = not case.is_passed and not case.is_skipped
        message = case.result[0].message if case.result else None
        cases.append(
            {"name": case.name, "classname": case.classname, "failed": failed, "message": message}
        )
print(json.dumps(cases))
