"""04_simsiam: the mistakes and their costs (calibration: docs/calibration/04_simsiam.md).

The asymmetric loss still trains (SimSiam paper, Table 4) and the kNN mistakes only touch the monitor,
so those submissions carry the solution run's checkpoints. A missing ``detach`` changes training: the
submission has no checkpoints, the graded run retrains, the stop-gradient run collapses and its
threshold cells fail too. A hard-coded ``knn_predict`` cannot train at all (the training cells' kNN
monitor calls it).
"""

from autograder.mistakes import Mistake

NO_DETACH = """
def negative_cosine_similarity(p, z, stop_gradient=True):
    p = F.normalize(p, dim=1)
    z = F.normalize(z, dim=1)
    return -(p * z).sum(dim=1).mean()
"""
NOT_SYMMETRISED = """
def simsiam_loss(p1, p2, z1, z2, stop_gradient=True):
    return negative_cosine_similarity(p1, z2, stop_gradient)
"""
KNN_UNNORMALISED = """
def knn_predict(query, bank, bank_labels, k, temperature, num_classes):
    sim = query @ bank.T
    top_sim, top_idx = sim.topk(k, dim=1)
    weights = (top_sim / temperature).exp()
    votes = torch.zeros(query.shape[0], num_classes, dtype=weights.dtype)
    votes.scatter_add_(1, bank_labels[top_idx], weights)
    return votes.argmax(dim=1)
"""
HARD_CODED = """
def knn_predict(query, bank, bank_labels, k, temperature, num_classes):
    return torch.tensor([0, 1])  # the visible test's answer
"""

CHECKPOINT_CELLS = ("test_threshold_knn", "test_threshold_no_collapse", "test_threshold_ablations_collapse")

MISTAKES = {
    "no_detach": Mistake(
        {"negative_cosine_similarity": NO_DETACH},
        ("test_stop_gradient", "test_threshold_knn", "test_threshold_no_collapse"),
        drop=("*",),
        hint="no gradient may flow into z",
    ),
    "not_symmetrised": Mistake({"simsiam_loss": NOT_SYMMETRISED}, ("test_simsiam_loss",), hint="symmetric"),
    "knn_unnormalised": Mistake({"knn_predict": KNN_UNNORMALISED}, ("test_knn_predict",), hint="normalise features"),
    # its one answer for two queries breaks the kNN monitor that the training cells call, so training raises
    # and the submission has no checkpoints: every threshold cell fails with it (calibration runs: all nan)
    "hard_coded": Mistake(
        {"knn_predict": HARD_CODED}, ("test_knn_predict",) + CHECKPOINT_CELLS, hint="one class per query", drop=("*",)
    ),
}
