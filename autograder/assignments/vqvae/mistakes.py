"""06_vqvae: the common mistakes and what each must cost (autograder.mistakes).

The three loss and quantiser mistakes change what training optimises, so their fixtures do not carry the
solution's checkpoints (``drop=("*",)``) and the graded run retrains all three codebook sizes with them. The
thresholds are not placed yet (``math.inf``, course_lib/assignments/vqvae/profile.py), so their threshold cells still
pass and only the unit cell of the broken function is lost; docs/assignments/06_vqvae.md shows what one run of each
does to the held-out reconstruction error. The hard-coded answer breaks ``assign_codes``, which ``quantize`` calls:
both unit cells fail; it hands in the solution's checkpoints (nothing retrains), which the hidden threshold parts
measure with the reference quantiser, so its threshold cells pass.
"""

from autograder.mistakes import Mistake

CODEBOOK_NO_STOPGRAD = """
def vq_losses(z_e, z_q, beta):
    codebook_loss = F.mse_loss(z_q, z_e)  # mistake: no stop-gradient on z_e, so it moves the encoder too
    commitment_loss = beta * F.mse_loss(z_e, z_q.detach())
    return codebook_loss, commitment_loss
"""
COMMITMENT_WRONG_SIDE = """
def vq_losses(z_e, z_q, beta):
    codebook_loss = F.mse_loss(z_q, z_e.detach())
    commitment_loss = beta * F.mse_loss(z_e.detach(), z_q)  # mistake: the stop-gradient on the encoder's side
    return codebook_loss, commitment_loss
"""
NO_STRAIGHT_THROUGH = """
def quantize(z_e, codebook):
    indices = assign_codes(z_e, codebook)
    z_q = codebook[indices]
    return z_q, z_q, indices  # mistake: the decoder reads z_q, whose gradient goes to the codebook, not the encoder
"""
HARD_CODED = """
def assign_codes(z_e, codebook):
    return torch.tensor([0, 1, 0, 2])  # the visible test's answer
"""

SIZES = (64, 128, 256)
CHECKPOINT_CELLS = tuple(f"test_threshold_vqvae_{k}" for k in SIZES)

MISTAKES = {
    "codebook_no_stopgrad": Mistake(
        {"vq_losses": CODEBOOK_NO_STOPGRAD},
        ("test_vq_losses",),
        drop=("*",),
        hint="the codebook loss moves the encoder output",
    ),
    "commitment_wrong_side": Mistake(
        {"vq_losses": COMMITMENT_WRONG_SIDE},
        ("test_vq_losses", *CHECKPOINT_CELLS),
        drop=("*",),
        hint="the commitment loss moves the codebook",
    ),
    "straight_through_missing": Mistake(
        {"quantize": NO_STRAIGHT_THROUGH},
        ("test_quantize", *CHECKPOINT_CELLS),
        drop=("*",),
        hint="does not reach the encoder",
    ),
    "hard_coded": Mistake(
        {"assign_codes": HARD_CODED},
        # training calls the quantiser, so the graded run retrains with the constant codes and fails every threshold
        ("test_assign_codes", "test_quantize", *CHECKPOINT_CELLS),
        drop=("*",),
        hint="hard-coded",
    ),
}
