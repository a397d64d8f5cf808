"""The losses under torchrun: two gloo processes give the single-process loss and gradients.

What is checked, for CLIP and SigLIP, with equal (4+4) and unequal (3+5) local batches through a
micro dual encoder wrapped in DistributedDataParallel:

* the mean of the two ranks' loss values equals the loss of one process on the concatenated
  batch;
* the gradient reaching each rank's own embeddings equals W = 2 times the single-process
  gradient of those rows (every rank's loss reaches them through the gathered columns);
* after DDP's gradient averaging, every parameter gradient on every rank (towers, temperature,
  bias) equals the single-process parameter gradient.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import safetensors.torch
import torch
from ddp_loss_worker import CASES, global_batch, micro_model, run_case

from shared_parts import run_on_processes

WORKER = Path(__file__).with_name("ddp_loss_worker.py")
WORLD_SIZE = 2


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the worker on two processes once; the directory of their results."""
    out_dir = tmp_path_factory.mktemp("ddp")
    run_on_processes(WORKER, out_dir, processes=WORLD_SIZE, timeout=300)
    return out_dir


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_two_processes_equal_one_on_the_concatenated_batch(ddp_results: Path, case: str) -> None:
    preset, sizes = CASES[case]
    model = micro_model(preset)
    pixels, texts = global_batch(sum(sizes))
    single = run_case(model, model, pixels, texts)
    ranks = [
        safetensors.torch.load_file(ddp_results / f"{case}.rank{rank}.safetensors")
        for rank in range(WORLD_SIZE)
    ]
    tolerance = {"rtol": 1e-9, "atol": 1e-12}

    mean_loss = sum(rank["loss"] for rank in ranks) / WORLD_SIZE
    torch.testing.assert_close(mean_loss, single["loss"], **tolerance)
    assert not torch.allclose(ranks[0]["loss"], ranks[1]["loss"])  # each rank has its own rows

    for rank, result in enumerate(ranks):
        rows = slice(sum(sizes[:rank]), sum(sizes[: rank + 1]))
        for key in ("image_embeds_grad", "text_embeds_grad"):
            torch.testing.assert_close(result[key], WORLD_SIZE * single[key][rows], **tolerance)
        parameters = [key for key in single if key.startswith("param.")]
        assert parameters and set(parameters) == {key for key in result if key.startswith("param.")}
        for key in parameters:
            torch.testing.assert_close(result[key], single[key], **tolerance, msg=key)
        scale_key = "param.backbone.logit_scale"
        assert single[scale_key].abs().item() > 0  # the temperature's gradient is compared too
