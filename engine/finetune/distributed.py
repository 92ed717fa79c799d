"""Multi-process data parallel training: process group, reductions, rank 0 decisions.

``accelerate launch --num_processes N`` starts N copies of the runner with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and ``MASTER_ADDR`` / ``MASTER_PORT`` set. The trainer uses
torch.distributed directly: NCCL on GPUs, gloo on the CPU. Only rank 0 reads the cancel
flag, writes the database and saves checkpoints; the others follow its decisions through
broadcasts. A single process (no ``WORLD_SIZE``, or 1) needs no process group at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass
class ProcessGroup:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialized: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """Return the element-wise sum of ``values`` over all processes."""
        if not self.distributed:
            return list(values)
        import torch
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self._device())
        dist.all_reduce(tensor)
        return tensor.cpu().tolist()

    def broadcast_flag(self, flag: bool) -> bool:
        """Return rank 0's ``flag`` on every process."""
        if not self.distributed:
            return flag
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self._device())
        dist.broadcast(tensor, src=0)
        return bool(tensor.item())

    def gather_objects(self, value: Any) -> list[Any]:
        """Return the ``value`` of every process, in rank order, on every process."""
        if not self.distributed:
            return [value]
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        if self.initialized:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.initialized = False

    def _device(self) -> str:
        import torch.distributed as dist

        return f"cuda:{self.local_rank}" if dist.get_backend() == "nccl" else "cpu"


def init_process_group(device_kind: str) -> ProcessGroup:
    """Join the process group that ``accelerate launch`` (or torchrun) set up, if any.

    ``device_kind`` is "cuda" (NCCL backend) or anything else (gloo).
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    import torch
    import torch.distributed as dist

    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    backend = "nccl" if device_kind == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend=backend)
    return ProcessGroup(rank=rank, world_size=world_size, local_rank=local_rank, initialized=True)


def wrap_model(model: Any, group: ProcessGroup, device: str, find_unused: bool) -> Any:
    """Wrap ``model`` in DistributedDataParallel when there are several processes."""
    if not group.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [group.local_rank] if device.startswith("cuda") else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused)
