"""Issue 13 item 13: seeded mutation fuzzing of CSVs and `orch plan` options, a few seconds each.
Every input ends in exit 0 with a valid dataset/plan, or exit 2 with a one-line reason; never a
traceback, never a known-bad CSV accepted, never an earlier dataset damaged."""

from tests.fuzz_inputs import fuzz_csvs, fuzz_options, tally


def test_mutated_csvs_give_a_dataset_or_a_one_line_reason(tmp_path):
    results = fuzz_csvs(60, seed=13, folder=tmp_path)
    wrong = [(r.case.label, r.outcome, r.detail) for r in results if r.outcome not in ("accepted", "clean error")]
    assert wrong == []
    counts = tally([r.outcome for r in results])
    assert counts["accepted"] >= 5 and counts["clean error"] >= 30  # both paths were exercised


def test_mutated_plan_options_give_a_plan_or_a_one_line_reason(orch_home):
    results = fuzz_options(80, seed=7)
    wrong = [(args, outcome, detail) for args, outcome, detail in results if outcome not in ("accepted", "clean error")]
    assert wrong == []
    counts = tally([outcome for _, outcome, _ in results])
    assert counts["accepted"] >= 3 and counts["clean error"] >= 40
