"""02_vae: the mistakes and their costs (calibration: docs/calibration/02_vae.md).

A mean over pixels in ae_loss still trains an AE below the threshold and the log-variance KL still
trains VAEs below theirs, so those submissions carry the solution run's checkpoints. A KL summed over
the batch collapses every posterior: the submission has no checkpoints, the graded run trains with the
broken loss, and the VAE reconstruction thresholds fail as well (with collapsed posteriors the three KL
are about 0.1 each and their order is noise: not asserted). The hard-coded linear schedule (right for
the visible test's 3 epochs only) keeps raising beta past its target over the profile's 6 epochs: the
linear run it retrains ends at 118-127, above the linear threshold (every correct run is below 99).
The two perturb_latents mistakes (moving the caller's z in place, so the rows accumulate; setting the coordinate
to epsilon instead of adding it) change only a figure: they lose their unit cell and carry the solution's
checkpoints.
"""

from autograder.mistakes import Mistake

MEAN_PIXELS = """
def ae_loss(model, x):
    loss = ((model.decoder(model.encoder(x)) - x) ** 2).mean()  # mistake: mean over all elements
    return loss, {'recon_loss': loss}
"""
KL_SUM_BATCH = """
def vae_loss(model, x, eps, beta=1.0):
    mu, log_std = model.encoder(x)
    x_hat = model.decoder(reparameterize(mu, log_std, eps))
    recon = ((x_hat - x) ** 2).flatten(1).sum(1).mean()
    kl = kl_to_standard_normal(mu, log_std).sum()  # mistake: summed over the batch
    return recon + beta * kl, {'recon_loss': recon, 'kl_loss': kl}
"""
LOGVAR = """
def kl_to_standard_normal(mu, log_std):
    return 0.5 * (mu ** 2 + torch.exp(log_std) - 1 - log_std).sum(1)  # mistake: log_std used as a log-variance
"""
HARD_CODED = """
def linear_beta_schedule(max_epochs, target):
    return lambda epoch: target * epoch / 2  # fits the visible test (max_epochs = 3) only
"""
PERTURB_IN_PLACE = """
def perturb_latents(z, dims, epsilon):
    rows = []
    for d in dims:
        z[:, d] += epsilon  # mistake: moves the caller's z in place, so each row carries the earlier rows' steps
        rows.append(z.clone())
    return torch.stack(rows)
"""
PERTURB_SET = """
def perturb_latents(z, dims, epsilon):
    rows = []
    for d in dims:
        row = z.clone()
        row[:, d] = epsilon  # mistake: replaces the coordinate by epsilon instead of adding epsilon to it
        rows.append(row)
    return torch.stack(rows)
"""

CHECKPOINT_CELLS = (
    "test_threshold_ae",
    "test_threshold_vae",
    "test_threshold_beta08",
    "test_threshold_beta12",
    "test_threshold_linear",
    "test_threshold_kl_order",
)
VAE_RECON_CELLS = ("test_threshold_vae", "test_threshold_beta08", "test_threshold_beta12", "test_threshold_linear")

MISTAKES = {
    "mean_pixels": Mistake({"ae_loss": MEAN_PIXELS}, ("test_ae_loss",), hint="mean over all elements"),
    "kl_sum_batch": Mistake(
        {"vae_loss": KL_SUM_BATCH},
        ("test_vae_loss",) + VAE_RECON_CELLS,
        hint="summed over the batch",
        drop=("*",),
        undecided=("test_threshold_kl_order",),
    ),
    "logvar": Mistake({"kl_to_standard_normal": LOGVAR}, ("test_kl_to_standard_normal",), hint="log-variance"),
    "perturb_in_place": Mistake({"perturb_latents": PERTURB_IN_PLACE}, ("test_perturb_latents",), hint="in place"),
    "perturb_set": Mistake({"perturb_latents": PERTURB_SET}, ("test_perturb_latents",), hint="not replacing it"),
    "hard_coded": Mistake(
        {"linear_beta_schedule": HARD_CODED},
        ("test_beta_schedules", "test_threshold_linear"),
        hint="half-way at the middle epoch",
        drop=("vae_linear",),
    ),
}
