"""__NAME__: the common mistakes and what each must cost (autograder.mistakes).

The sum instead of the mean makes every step N times larger: training diverges, so its fixture retrains and
fails the threshold cell too. The other mistakes break functions training does not call: they carry the
solution's checkpoint and lose their unit cell only.
"""

from autograder.mistakes import Mistake

SUM = """
def mse_loss(pred, target):
    return ((pred - target) ** 2).sum()  # mistake: the sum over the points, not the mean
"""
HUBER_UNSCALED = """
def huber_loss(pred, target, delta):
    r = (pred - target).abs()
    return torch.where(r <= delta, 0.5 * r ** 2, r - 0.5 * delta).mean()  # mistake: the linear branch lacks delta *
"""
R2_UNCENTRED = """
def r2_score(pred, target):
    return 1 - ((target - pred) ** 2).sum() / (target ** 2).sum()  # mistake: total sum of squares around 0
"""
HARD_CODED = """
def mse_loss(pred, target):
    return torch.tensor(1.5)  # the visible test's answer
"""

CHECKPOINT_CELLS = ("test_threshold_line",)

MISTAKES = {
    "sum_not_mean": Mistake(
        {"mse_loss": SUM}, ("test_mse_loss", "test_threshold_line"), drop=("*",), hint="mean over every element"
    ),
    "huber_unscaled": Mistake({"huber_loss": HUBER_UNSCALED}, ("test_huber_loss",), hint="delta * (|r| - delta / 2)"),
    "r2_uncentred": Mistake({"r2_score": R2_UNCENTRED}, ("test_r2_score",), hint="around the mean of the targets"),
    "hard_coded": Mistake({"mse_loss": HARD_CODED}, ("test_mse_loss",), hint="hard-coded"),
}
