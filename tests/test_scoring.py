"""The score: deterministic, explained point by point, weights from TOML."""

from __future__ import annotations

import pytest

from hub.config import Settings
from hub.errors import BadRequest
from hub.scoring import load_weights, score_row
from hub.services import Services
from hub.stages.base import StageContext
from hub.stages.score import run as score_stage

ROW = {
    "serp_rank": "3",
    "keyword": "art blog",
    "page_title": "The Art Blog of Anna",
    "snippet": "Paintings and notes",
    "contact_email": "anna.k@artblog.test",
    "contact_name": "Anna K",
    "email_confidence": "92",
    "email_status": "valid",
    "email_source": "hunter",
}


def test_score_and_reasons_of_a_good_prospect():
    score = score_row(ROW, load_weights())
    assert score.reasons == "rank 3 +25; keyword in title +15; personal email 92% +30; verified +5"
    assert score.value == 75


def test_same_row_same_score():
    weights = load_weights()
    assert score_row(dict(ROW), weights) == score_row(dict(ROW), weights)


@pytest.mark.parametrize(
    ("changes", "expected_part"),
    [
        ({"serp_rank": "15"}, "rank 15 +10"),
        ({"contact_email": "info@artblog.test", "contact_name": ""}, "generic email 92% +15"),
        ({"email_confidence": "71"}, "low confidence -8"),
        ({"email_source": "site", "email_confidence": ""}, "email published on site +12"),
        ({"email_source": "manual"}, "email typed by hand +30"),
        ({"da_est": "40"}, "da 40 +8"),
        ({"da_est": "95"}, "da 95 +15"),
        ({"snippet": "an art blog"}, "keyword in snippet +8"),
    ],
)
def test_each_signal_is_explained(changes, expected_part):
    assert expected_part in score_row({**ROW, **changes}, load_weights()).reasons


def test_score_stays_within_0_and_100():
    weights = load_weights()
    weights["contact"]["personal"] = 500
    assert score_row(ROW, weights).value == 100
    assert score_row({}, load_weights()).value == 0


def test_a_weights_file_overrides_only_what_it_names(tmp_path):
    path = tmp_path / "weights.toml"
    path.write_text("[keyword]\nin_title = 40\n")
    weights = load_weights(str(path))
    assert weights["keyword"]["in_title"] == 40
    assert weights["rank"]["tiers"][0] == [3, 25]
    assert "keyword in title +40" in score_row(ROW, weights).reasons


def test_a_broken_weights_file_is_a_clear_error(tmp_path):
    path = tmp_path / "weights.toml"
    path.write_text("[keyword\n")
    with pytest.raises(BadRequest, match="HUB_SCORE_WEIGHTS_FILE"):
        load_weights(str(path))


async def test_score_stage_scores_enriched_rows_once(data_dir, local_store):
    settings = Settings(_env_file=None, data_dir=data_dir, sheets_chunk_rows=2)
    enriched = local_store.append(
        [{**ROW, "domain": f"s{i}.test", "outreach_status": "enriched"} for i in range(5)]
    ).added
    (pending,) = local_store.append([{"domain": "p.test"}]).added
    services = Services(settings=settings, store=local_store)
    ctx = StageContext(job_id="j", job_type="score", params={}, services=services)
    result = await score_stage(ctx)
    assert result.summary == {"scored": 5}
    assert {local_store.get(i)["score"] for i in enriched} == {"75"}
    assert not local_store.get(pending).get("score")
    assert (await score_stage(ctx)).summary == {"scored": 0}  # idempotent
    # named rows are re-scored (after a weights change, say)
    named = StageContext(
        job_id="j2", job_type="score", params={"prospect_ids": enriched[:1]}, services=services
    )
    assert (await score_stage(named)).summary == {"scored": 1}
