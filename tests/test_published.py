"""data/published/: every set validates, every row is cited, figures match their sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors import physics, store
from collectors.records import PublishedSet

DATA = Path(__file__).parents[1] / "data"
FILES = sorted((DATA / "published").glob("*.yaml"))


@pytest.fixture(scope="module")
def sets() -> dict[str, PublishedSet]:
    out = {}
    for path in FILES:
        record, problems = store.read_file(path)
        assert problems == [], problems
        assert isinstance(record, PublishedSet)
        out[record.id] = record
    return out


def test_published_files_exist() -> None:
    assert {p.stem for p in FILES} >= {"llama-cpp-apple-silicon", "llama-cpp-cuda-scoreboard", "llama-cpp-dgx-spark",
                                      "xiongjiedai-llama3-2024-05", "xiongjiedai-llama2-2023-12",
                                      "mlx-and-community-anchors", "seed-article"}


def test_every_row_is_cited_with_a_date_or_a_dating_note(sets: dict[str, PublishedSet]) -> None:
    for ps in sets.values():
        for i, row in enumerate(ps.results):
            cite = row.citation or ps.citation
            assert cite.url.startswith("https://"), (ps.id, i)
            assert cite.accessed is not None, (ps.id, i)
            # Where the publication date is not known to the day, the note says when.
            assert cite.date is not None or (cite.note and any(w in (cite.note + ps.citation.note) for w in (
                "2023", "2024", "2025", "2026"))), (ps.id, i)


def test_second_hand_rows_say_so(sets: dict[str, PublishedSet]) -> None:
    for ps_id in ("llama-cpp-apple-silicon", "llama-cpp-cuda-scoreboard"):
        for row in sets[ps_id].results:
            note = (row.citation or sets[ps_id].citation).note or ""
            assert "2nd-hand" in note


def test_machine_ids_exist_and_seed_article_role(sets: dict[str, PublishedSet]) -> None:
    machines = {p.stem for p in (DATA / "machines").glob("*.yaml")}
    for ps in sets.values():
        assert {r.machine for r in ps.results if r.machine} <= machines
        assert {c.machine for c in ps.claims if c.machine} <= machines
    assert sets["seed-article"].role == "seed_article"
    assert [s.id for s in sets.values() if s.role == "seed_article"] == ["seed-article"]


def _find(ps: PublishedSet, hardware: str, workload: str, dtype: str, **kw: object) -> float:
    hits = [r.tokens_per_s for r in ps.results if r.hardware.startswith(hardware) and r.workload == workload
            and r.dtype == dtype and all(getattr(r, k) == v for k, v in kw.items())]
    assert len(hits) == 1, (hardware, workload, dtype, kw, hits)
    return hits[0]


def test_figures_match_their_sources(sets: dict[str, PublishedSet]) -> None:
    # Spot checks against the figures as FACTS.md and the sources give them.
    assert _find(sets["llama-cpp-apple-silicon"], "Apple M2 Ultra (76", "decode", "q4_0") == 94.27
    # The M1 rows are Q8_0 and Q4_0 (the discussion gives no F16 figure for an 8 GB M1).
    assert _find(sets["llama-cpp-apple-silicon"], "Apple M1 (8-core", "decode", "q4_0") == 14.15
    m1 = [r for r in sets["llama-cpp-apple-silicon"].results if r.hardware.startswith("Apple M1 (")]
    assert m1 and not [r for r in m1 if r.dtype == "f16"]
    assert _find(sets["llama-cpp-apple-silicon"], "Apple M1 Max", "prefill", "f16") == 599.53
    assert _find(sets["llama-cpp-cuda-scoreboard"], "NVIDIA H100", "decode", "q4_0") == 280.7
    assert _find(sets["xiongjiedai-llama3-2024-05"], "RTX 3080 Ti 12GB", "decode", "q4_k_m", gen_tokens=512) == 110.60
    assert _find(sets["xiongjiedai-llama2-2023-12"], "M3 10-core", "prefill", "f16") == 25.21
    spark = sets["llama-cpp-dgx-spark"]
    tg = [r for r in spark.results if r.model == "gpt-oss-20b" and r.settings["test"] == "tg32"]
    assert [r.tokens_per_s for r in tg] == [84.10] and tg[0].settings["build_commit"] == "2f68ce7cf"
    assert _find(sets["seed-article"], "Apple M5", "decode", "unknown") == 25.61
    claims = {c.id: c for c in sets["seed-article"].claims}
    assert (claims["m5-bandwidth"].value, claims["m4-max-power"].value) == (153, 65)
    assert claims["m2-ultra-vs-3080-ti-rl"].value == 15.3


def test_report_helpers_give_rooflines(sets: dict[str, PublishedSet]) -> None:
    ds = store.load(DATA)
    row = next(r for r in sets["llama-cpp-cuda-scoreboard"].results
               if r.machine == "desktop-rtx-4090" and r.workload == "decode")
    roof = physics.published_roofline(ds, row)
    assert roof is not None and 0.5 < roof.fraction < 0.9  # 189 tok/s x 3.72 GB = 703 of 1008 GB/s
    assert roof.ceiling_tokens_per_s == pytest.approx(1008e9 / roof.bytes_per_token)
