"""The in-memory scorer gives exactly the reference score: the model artifact's own `predict` on
rows joined by `shared.features.attach_features`."""

from __future__ import annotations

import numpy as np

from infra_mle.online import OnlineScorer
from shared.artifacts import load_model
from shared.encoding import SERVING_POSITION
from shared.features import training_set


def test_online_scores_equal_the_reference_within_1e6(artifact, snapshot_dir, events, serving_day):
    model = load_model(artifact)
    scorer = OnlineScorer.load(model, snapshot_dir)
    rows = training_set(events, serving_day, "ad_break").assign(position=SERVING_POSITION)
    expected = model.predict(rows)
    categorical, dense = scorer.inputs(
        rows["user_id"].to_numpy(object), rows["item_id"].to_numpy(object),
        rows["device"].to_numpy(object), rows["hour"].to_numpy(),
    )  # fmt: skip
    np.testing.assert_allclose(scorer.score_arrays(categorical, dense), expected, atol=1e-6)


def test_unknown_users_and_items_get_the_defaults_not_an_error(artifact, snapshot_dir):
    scorer = OnlineScorer.load(load_model(artifact), snapshot_dir)
    p = scorer.score("nobody", ["no-such-ad", "another"], device="tv", hour=3)
    assert p.shape == (2,) and np.isfinite(p).all()
    assert p[0] == p[1], "two unknown ads in the same context are indistinguishable"
    assert not scorer.known_user("nobody")
