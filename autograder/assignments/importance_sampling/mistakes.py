"""05_importance_sampling: the mistakes and their costs (calibration: docs/calibration/05_importance_sampling.md).

A function that others call costs their cells too (the importance-sampling cells call log_mean_exp
and log_likelihood_bernoulli). ``bernoulli_mean`` changes what training optimises: the submission has
no checkpoint and the graded run retrains with it.
"""

from autograder.mistakes import Mistake

LME_SUM = """
def log_mean_exp(y, dim):
    return torch.logsumexp(y, dim=dim)  # mistake: log of the SUM of exponentials
"""
BERNOULLI_MEAN = """
def log_likelihood_bernoulli(logits, target):
    # mistake: averaged over pixels instead of summed
    return (target * F.logsigmoid(logits) + (1 - target) * F.logsigmoid(-logits)).mean(-1)
"""
IS_NO_RATIO = """
def importance_sampling_log_px(model, x, eps):
    mu, logvar = model.encode(x)
    z = mu.unsqueeze(1) + torch.exp(0.5 * logvar).unsqueeze(1) * eps
    # mistake: weights p(x|z) alone, without p(z) / q(z|x)
    return log_mean_exp(log_likelihood_bernoulli(model.decode(z), x.reshape(x.shape[0], 1, -1)), dim=1)
"""
HARD_CODED = """
def log_mean_exp(y, dim):
    return torch.tensor([math.log(2.0)])  # the visible test's answer
"""

IS_CELLS = ("test_importance_sampling_log_px", "test_importance_sampling_quadrature")
CHECKPOINT_CELLS = ("test_threshold_elbo", "test_threshold_log_px")
LME_CELLS = ("test_log_mean_exp", "test_log_mean_exp_stable")

MISTAKES = {
    "lme_sum": Mistake({"log_mean_exp": LME_SUM}, LME_CELLS + IS_CELLS, hint="SUM of the exponentials"),
    "bernoulli_mean": Mistake(
        {"log_likelihood_bernoulli": BERNOULLI_MEAN},
        ("test_log_likelihood_bernoulli", "test_log_likelihood_bernoulli_stable", "test_elbo")
        + IS_CELLS
        + CHECKPOINT_CELLS,
        drop=("*",),
        hint="averaged over the pixels",
    ),
    "is_no_ratio": Mistake({"importance_sampling_log_px": IS_NO_RATIO}, IS_CELLS, hint="p(z) / q(z|x)"),
    "hard_coded": Mistake({"log_mean_exp": HARD_CODED}, LME_CELLS + IS_CELLS, hint="hard-coded"),
}
