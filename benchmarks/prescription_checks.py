"""Prescription safety checks: the engine's latency on random 10-drug prescriptions, against a naive scan.

Random prescriptions of 10 different non-controlled drugs from the shipped catalog (doses near each
drug's usual daily dose, a few units in g rather than mg, some as-needed lines), for random patients
(children with and without a weight, pregnant and breastfeeding women, allergies by name, code,
ATC class or something unknown, chronic diagnoses for long-term prescriptions) are checked one at a
time by (a) `check` with the shipped, indexed interaction table and (b) the same engine over a
naive table that scans every interaction row for every pair of drugs: what a table without the
selector index costs. Both must give the same findings. The last line printed is one JSON object.

    .venv/bin/python benchmarks/prescription_checks.py            # 20,000 prescriptions; fails if p99 >= 5 ms
    .venv/bin/python benchmarks/prescription_checks.py --quick    # 500, for CI
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Sequence

from regio.care.prescription.catalog import Drug, shipped_by_code, shipped_catalog
from regio.care.prescription.checks import Finding, Kind, Line, Patient, check
from regio.care.prescription.interactions import RANK, Interaction, InteractionTable, shipped_interactions

TARGET_P99_MS = 5.0
LINES_PER_PRESCRIPTION = 10
FREQUENCIES = ("qd", "bid", "tid", "q12h", "q8h", "qn")


class NaiveTable(InteractionTable):
    """The same rows without the index: every row is tested against every pair."""

    def covers(self, atc: str) -> bool:
        return any(atc.startswith(row.a) or atc.startswith(row.b) for row in self.rows)

    def between(self, atc_x: str, atc_y: str) -> list[Interaction]:
        found = [
            row
            for row in self.rows
            if (atc_x.startswith(row.a) and atc_y.startswith(row.b))
            or (atc_x.startswith(row.b) and atc_y.startswith(row.a))
        ]
        found.sort(key=lambda row: RANK[row.severity])  # most severe first, then table order, like the index
        return found


def random_patient(rng: random.Random, drugs: Sequence[Drug]) -> tuple[Patient, Kind]:
    child = rng.random() < 0.2
    age = rng.uniform(0.5, 17.9) if child else rng.uniform(18, 90)
    sex = rng.choice(("male", "female", "female", "unknown"))
    weight = None if rng.random() < 0.1 else (age * 2.5 + 8 if child else rng.uniform(45, 95))
    fertile = sex == "female" and 15 <= age <= 45
    pregnant = rng.choice((True, False, None)) if fertile else (False if sex == "female" else None)
    allergies: list[str] = []
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        pick = rng.random()
        if pick < 0.4:
            allergies.append(rng.choice(drugs).name_zh)
        elif pick < 0.6:
            allergies.append(rng.choice(drugs).code)
        elif pick < 0.85:
            allergies.append(rng.choice(("青霉素类", "J01C", "磺胺类", "M01A", "N02BE01")))
        else:
            allergies.append(rng.choice(("花粉", "海鲜", "尘螨")))
    kind = rng.choices((Kind.ordinary, Kind.emergency, Kind.long_term), weights=(7, 1, 2))[0]
    diagnoses = ("I10", "E11.900") if kind is Kind.long_term and rng.random() < 0.9 else ("J06.9",)
    patient = Patient(
        age_years=age,
        sex=sex,
        weight_kg=weight,
        pregnant=pregnant,
        trimester=rng.randint(1, 3) if pregnant else None,
        lactating=(rng.random() < 0.2) if sex == "female" and not pregnant else None,
        allergies=tuple(allergies),
        diagnoses=diagnoses,
    )
    return patient, kind


def random_line(rng: random.Random, drug: Drug, kind: Kind) -> Line:
    frequency = rng.choice(FREQUENCIES)
    times = {"qd": 1, "bid": 2, "tid": 3, "q12h": 2, "q8h": 3, "qn": 1}[frequency]
    daily = drug.adult_usual_daily or (drug.adult_max_daily or 2.0) / 2
    dose = daily / times * rng.uniform(0.6, 1.3)
    unit = drug.dose_unit
    if unit == "mg" and rng.random() < 0.2:
        dose, unit = dose / 1000, "g"
    prn_max = None
    if rng.random() < 0.05:
        frequency, prn_max = "prn", float(times)
    days = {
        Kind.ordinary: rng.randint(1, 8),
        Kind.emergency: rng.randint(1, 4),
        Kind.long_term: rng.randint(7, 90),
    }
    return Line(drug.code, round(dose, 4) or 0.001, unit, "po", frequency, days[kind], prn_max)


def make_prescriptions(
    n: int, drugs: Sequence[Drug], seed: int = 7
) -> list[tuple[Patient, Kind, list[Line]]]:
    rng = random.Random(seed)
    usable = [drug for drug in drugs if not drug.controlled]
    out = []
    for _ in range(n):
        patient, kind = random_patient(rng, drugs)
        picked = rng.sample(usable, LINES_PER_PRESCRIPTION)
        out.append((patient, kind, [random_line(rng, drug, kind) for drug in picked]))
    return out


def timed(
    prescriptions: list[tuple[Patient, Kind, list[Line]]], catalog: dict[str, Drug], table: InteractionTable
) -> tuple[list[float], list[list[Finding]]]:
    latencies: list[float] = []
    results: list[list[Finding]] = []
    clock = time.perf_counter_ns
    for patient, kind, lines in prescriptions:
        start = clock()
        findings = check(patient, lines, kind=kind, catalog=catalog, interactions=table)
        latencies.append((clock() - start) / 1e6)
        results.append(findings)
    return latencies, results


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prescriptions", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="500 prescriptions, no latency target")
    args = parser.parse_args()
    n = 500 if args.quick else args.prescriptions

    drugs = shipped_catalog()
    catalog = dict(shipped_by_code())
    table = shipped_interactions()
    naive = NaiveTable(table.rows)
    prescriptions = make_prescriptions(n, drugs, args.seed)
    print(f"catalog: {len(drugs)} drugs, {sum(d.controlled for d in drugs)} controlled (left out)")
    print(f"interaction table: {len(table)} rows, {len(table.selectors)} selectors")
    print(f"prescriptions: {n} x {LINES_PER_PRESCRIPTION} drugs")

    timed(prescriptions[:200], catalog, table)  # warm-up: caches, branch predictors, allocator
    latencies, findings = timed(prescriptions, catalog, table)
    baseline_latencies, baseline_findings = timed(prescriptions, catalog, naive)
    if findings != baseline_findings:
        print("the indexed and the naive table disagree", file=sys.stderr)
        sys.exit(2)

    total_s = sum(latencies) / 1000
    baseline_s = sum(baseline_latencies) / 1000
    per_s = n / total_s
    baseline_per_s = n / baseline_s
    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    baseline_p99 = percentile(baseline_latencies, 0.99)
    counts = [len(f) for f in findings]
    print(f"findings per prescription: median {statistics.median(counts):g}, max {max(counts)}")
    print(f"indexed table: {per_s:,.0f} checks/s, p50 {p50:.3f} ms, p99 {p99:.3f} ms")
    print(
        f"naive scan:    {baseline_per_s:,.0f} checks/s, p50 {statistics.median(baseline_latencies):.3f} ms, "
        f"p99 {baseline_p99:.3f} ms"
    )
    print(f"speedup: {per_s / baseline_per_s:.1f}x; target p99 < {TARGET_P99_MS:g} ms")
    result = {
        "checks_per_s": round(per_s, 1),
        "p50_ms": round(p50, 4),
        "p99_ms": round(p99, 4),
        "baseline_checks_per_s": round(baseline_per_s, 1),
        "baseline_p99_ms": round(baseline_p99, 4),
        "speedup": round(per_s / baseline_per_s, 2),
        "catalog_drugs": len(drugs),
        "interaction_rows": len(table),
        "prescriptions": n,
    }
    print(json.dumps(result))
    if not args.quick and p99 >= TARGET_P99_MS:
        sys.exit(1)


if __name__ == "__main__":
    main()
