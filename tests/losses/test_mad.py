"""The MAD four-way loss on logits whose every term is known in closed form.

K = 2 prototypes, teacher temperature 1e-3, so a teacher logit pair [10, 0] gives the exact one-hot
target e0 and [0, 10] gives e1. Student temperature 1, student logits [a, 0]: then
CE(e0, S) = log(1 + exp(-a)) and CE(e1, S) = log(1 + exp(a)).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from madcell.losses import MADLoss, sinkhorn_knopp, teacher_temp_schedule


def f0(a: float) -> float:
    return math.log1p(math.exp(-a))


def f1(a: float) -> float:
    return math.log1p(math.exp(a))


HOT = {0: [10.0, 0.0], 1: [0.0, 10.0]}
T_MORPH = [0, 1]  # hot class of teacher global crops 0, 1 (morphology)
T_MICRO = [1, 1]
S_MORPH = [1.0, 2.0, 3.0]  # student a for global 0, global 1, local 0
S_MICRO = [-1.0, 0.5, 4.0]

MM = np.mean([f0(2), f0(3), f1(1), f1(3)])  # pairs (0,1) (0,2) (1,0) (1,2): self pairs excluded
MM_WITH_SELF = np.mean([f0(1), f0(2), f0(3), f1(1), f1(2), f1(3)])
UU = np.mean([f1(0.5), f1(4), f1(-1), f1(4)])
MU = np.mean([f0(-1), f0(0.5), f0(4), f1(-1), f1(0.5), f1(4)])  # T morph -> S micro, all 6 pairs
UM = np.mean([f1(1), f1(2), f1(3)])  # T micro (both e1) -> S morph, all 6 pairs


def teacher(hot: list[int]) -> torch.Tensor:
    return torch.tensor([HOT[h] for h in hot])[:, None, :]  # (G, B=1, K=2)


def student(a: list[float]) -> torch.Tensor:
    return torch.tensor([[x, 0.0] for x in a])[:, None, :]  # (G+L, 1, 2)


def make_loss(alpha: float, **kw) -> MADLoss:
    return MADLoss(2, alpha, student_temp=1.0, teacher_temp_schedule=np.array([1e-3]), **kw)


def both():
    return {"morph": student(S_MORPH), "micro": student(S_MICRO)}, {"morph": teacher(T_MORPH), "micro": teacher(T_MICRO)}


def test_every_term_and_total():
    s, t = both()
    loss, terms = make_loss(1.0)(s, t, 0)
    assert terms == pytest.approx({"mm": MM, "uu": UU, "mu": MU, "um": UM}, rel=1e-5)
    assert loss.item() == pytest.approx(MM + UU + MU + UM, rel=1e-5)
    assert MM != pytest.approx(MM_WITH_SELF, rel=1e-3)  # the exclusion matters in this test


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_alpha_weights_only_cross_terms(alpha):
    s, t = both()
    loss, terms = make_loss(alpha)(s, t, 0)
    assert loss.item() == pytest.approx(MM + UU + alpha * (MU + UM), rel=1e-5)
    assert terms["mu"] == pytest.approx(MU, rel=1e-5)  # terms are reported unweighted


def test_no_local_crops():
    loss, terms = make_loss(1.0)({"morph": student(S_MORPH[:2])}, {"morph": teacher(T_MORPH)}, 0)
    assert terms == pytest.approx({"mm": np.mean([f0(2), f1(1)])}, rel=1e-5)
    assert loss.item() == pytest.approx(np.mean([f0(2), f1(1)]), rel=1e-5)


@pytest.mark.parametrize("view,name,expected", [("morph", "mm", MM), ("micro", "uu", UU)])
def test_single_view_modes(view, name, expected):
    s, t = both()
    loss, terms = make_loss(0.5)({view: s[view]}, {view: t[view]}, 0)
    assert list(terms) == [name]
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_exclusive_mode_has_weight_one():
    s, t = both()
    loss, terms = make_loss(0.5)({"morph": s["morph"]}, {"micro": t["micro"]}, 0)
    assert set(terms) == {"um"}
    assert loss.item() == pytest.approx(UM, rel=1e-5)
    loss, _ = make_loss(0.5, weights={"um": 0.25})({"morph": s["morph"]}, {"micro": t["micro"]}, 0)
    assert loss.item() == pytest.approx(0.25 * UM, rel=1e-5)


def test_one_global_crop_without_locals_is_an_error():
    with pytest.raises(ValueError, match="no crop pairs"):
        make_loss(1.0)({"morph": student([1.0])}, {"morph": teacher([0])}, 0)


def reference(student_out, teacher_out, alpha, s_temp, t_temp, center):
    total = 0.0
    for tv, tz in teacher_out.items():
        tp = torch.softmax((tz - center) / t_temp, -1)
        for sv, sz in student_out.items():
            lp = torch.log_softmax(sz / s_temp, -1)
            vals = [-(tp[i] * lp[j]).sum(-1).mean() for i in range(len(tz)) for j in range(len(sz)) if tv != sv or i != j]
            total += (1.0 if tv == sv else alpha) * torch.stack(vals).mean()
    return total


def test_random_logits_match_naive_loop_and_gradients_reach_student_only():
    g = torch.Generator().manual_seed(0)
    t = {v: torch.randn(2, 4, 8, generator=g, requires_grad=True) for v in ("morph", "micro")}
    s = {v: torch.randn(5, 4, 8, generator=g, requires_grad=True) for v in ("morph", "micro")}
    crit = MADLoss(8, 0.7, student_temp=0.1, teacher_temp_schedule=np.array([0.04, 0.07]), center_momentum=0.9)
    loss, _ = crit(s, t, 1)
    ref = reference({k: v.detach() for k, v in s.items()}, {k: v.detach() for k, v in t.items()}, 0.7, 0.1, 0.07, 0.0)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    loss.backward()
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in s.values())
    assert all(v.grad is None for v in t.values())
    # second call: the shared centre (mean of both views' teacher logits) is now in effect
    center = 0.1 * torch.cat([t["morph"].detach().reshape(-1, 8), t["micro"].detach().reshape(-1, 8)]).mean(0)
    assert torch.allclose(crit.center[0], center, atol=1e-6)
    loss2, _ = crit(s, t, 5)  # iteration past the schedule end uses its last value
    ref2 = reference({k: v.detach() for k, v in s.items()}, {k: v.detach() for k, v in t.items()}, 0.7, 0.1, 0.07, center)
    assert loss2.item() == pytest.approx(ref2.item(), rel=1e-5)


def test_centre_update_known_values():
    s, t = both()
    crit = make_loss(1.0)
    crit(s, t, 0)
    # teacher logits: morph [10,0],[0,10]; micro [0,10],[0,10] -> mean [2.5, 7.5]; momentum 0.9
    assert crit.center[0].tolist() == pytest.approx([0.25, 0.75])


def test_distributed_single_rank_matches(tmp_path):
    import torch.distributed as dist

    s, t = both()
    expected, _ = make_loss(1.0, centering="sinkhorn")(s, t, 0)
    crit = make_loss(1.0)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        loss, _ = make_loss(1.0, centering="sinkhorn")(s, t, 0)
        crit(s, t, 0)
    finally:
        dist.destroy_process_group()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert crit.center[0].tolist() == pytest.approx([0.25, 0.75])


def test_sinkhorn_normalises_rows_and_columns():
    z = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    q = sinkhorn_knopp(z, 0.1, n_iters=200)
    assert torch.allclose(q.sum(1), torch.ones(64), atol=1e-5)
    assert torch.allclose(q.sum(0), torch.full((16,), 64 / 16), rtol=1e-3)
    q3 = sinkhorn_knopp(z * 100, 0.01, n_iters=3)  # huge logits / tiny temperature: no overflow
    assert torch.isfinite(q3).all() and torch.allclose(q3.sum(1), torch.ones(64), atol=1e-5)


def test_sinkhorn_loss_uses_joint_targets():
    s, t = both()
    loss, terms = make_loss(1.0, centering="sinkhorn")(s, t, 0)
    assert torch.isfinite(loss) and set(terms) == {"mm", "uu", "mu", "um"}
    crit = make_loss(1.0, centering="sinkhorn")
    q = crit.teacher_targets(t, 0)
    flat = torch.cat([q["morph"].reshape(-1, 2), q["micro"].reshape(-1, 2)])
    assert torch.allclose(flat.sum(1), torch.ones(4), atol=1e-5)
    assert crit.center.abs().sum() == 0  # no centring state with Sinkhorn


def test_teacher_temp_schedule():
    sched = teacher_temp_schedule(0.04, 0.07, 4, 10)
    assert len(sched) == 10
    assert sched[:4].tolist() == pytest.approx([0.04, 0.05, 0.06, 0.07])
    assert (sched[4:] == 0.07).all()
    assert len(teacher_temp_schedule(0.04, 0.07, 20, 5)) == 5
    assert (teacher_temp_schedule(0.04, 0.07, 0, 3) == 0.07).all()


def test_bf16_autocast_keeps_float32_cross_entropy():
    g = torch.Generator().manual_seed(3)
    t = {"morph": torch.randn(2, 8, 256, generator=g)}
    s = {"morph": torch.randn(6, 8, 256, generator=g)}
    ref, _ = MADLoss(256, 1.0)(s, t, 0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low, _ = MADLoss(256, 1.0)(s, t, 0)
        unguarded = -(torch.softmax(t["morph"] / 0.04, -1)[0].reshape(1, -1) @ torch.log_softmax(s["morph"] / 0.1, -1)[1].reshape(1, -1).t())
    assert unguarded.dtype == torch.bfloat16  # what the CE matmul would be without the guard
    assert low.dtype == torch.float32
    assert low.item() == pytest.approx(ref.item(), rel=1e-6)


def test_centre_per_view_known_values_and_targets():
    s, t = both()
    crit = MADLoss(2, 1.0, student_temp=1.0, teacher_temp_schedule=np.array([1e-3]), center_momentum=0.9, center_per_view=True)
    crit(s, t, 0)
    # morph teacher logits [10,0],[0,10] -> mean [5, 5]; micro [0,10],[0,10] -> mean [0, 10]
    assert crit.center.shape == (2, 2)
    assert crit.center_of("morph")[0].tolist() == pytest.approx([0.5, 0.5])
    assert crit.center_of("micro")[0].tolist() == pytest.approx([0.0, 1.0])
    # the next targets of each view are centred on that view's own mean, not the shared one
    z = {v: torch.tensor([[[0.0, 0.0]]]) for v in ("morph", "micro")}
    q = crit.teacher_targets(z, 0)
    assert q["morph"][0, 0].tolist() == pytest.approx([0.5, 0.5])  # equal centre entries: uniform
    assert q["micro"][0, 0, 0].item() == pytest.approx(1.0)  # micro centre favours prototype 1: target flips to 0
