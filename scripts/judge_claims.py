"""Judge the paper's claims afresh from a saved report's results.json, under today's rules.

A report's verdicts are fixed when it is written; this re-applies `reproduce/claims.py` to
the stage results it recorded (e.g. after the claim rules changed), without rerunning stages.

.venv/bin/python scripts/judge_claims.py --preset small docs/reproduction/small/results.json
"""

import argparse
import sys
from pathlib import Path

from nodecode.errors import NodecodeError
from nodecode.reproduce import PRESETS, build_plan
from nodecode.reproduce.claims import claims
from nodecode.reproduce.records import read_results
from nodecode.reproduce.results import with_networks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", help="a report's results.json")
    parser.add_argument("--preset", required=True, choices=sorted(PRESETS))
    parser.add_argument("--size", type=int, default=64, help="image side the networks saw")
    args = parser.parse_args()
    recorded = read_results(Path(args.results))
    stages = build_plan(PRESETS[args.preset])
    results = with_networks({s.id: recorded[s.name] for s in stages if s.name in recorded}, stages)
    for claim in claims(results, args.size):
        print(f"{claim['number']}. {claim['verdict']}: {claim['evidence']}\n")


if __name__ == "__main__":
    try:
        main()
    except NodecodeError as error:  # a missing or damaged results file: say which, no traceback
        sys.exit(f"error: {error}")
