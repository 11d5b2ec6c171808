"""The promotion rule on its own: which version becomes champion, and the sentence a refusal gives."""

from mat_platform.model import promotion


def test_the_first_model_is_champion():
    d = promotion("1", 0.31, None, None)
    assert d.promote
    assert d.message == "version 1 is champion: the first model (holdout_pr_auc 0.3100)"


def test_a_better_model_replaces_the_champion():
    d = promotion("3", 0.42, "2", 0.40)
    assert d.promote
    assert d.message == (
        "version 3 is champion: holdout_pr_auc 0.4200 beats version 2's 0.4000 on the same held-out hours"
    )


def test_a_worse_or_equal_model_is_refused_in_one_sentence():
    for score in (0.39, 0.40):  # a tie keeps the model already trusted
        d = promotion("3", score, "2", 0.40)
        assert not d.promote
        assert d.message == (
            f"version 3 stays challenger: holdout_pr_auc {score:.4f} does not beat "
            "champion version 2's 0.4000 on the same held-out hours"
        )
