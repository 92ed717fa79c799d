"""PEFT (LoRA) adapters on a loaded transformers model: load, switch, unload."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from engine.errors import InvalidInputError, NotFoundError


class AdapterSet:
    """The adapters attached to one model and which one is active.

    ``model`` is what the backend calls: the plain model while no adapter is loaded, a
    ``PeftModel`` afterwards. peft injects LoRA layers into the base model in place, so
    unloading the last adapter calls ``PeftModel.unload()``, which restores the original
    layers. With adapters loaded but none active, calls run inside ``disable_adapter()``.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.paths: dict[str, Path] = {}
        self.active: str | None = None

    def load(self, name: str, path: str | Path, activate: bool = True) -> None:
        """Load the adapter folder ``path`` under ``name``."""
        path = Path(path)
        if not (path / "adapter_config.json").is_file():
            raise InvalidInputError(f"{path} is not a PEFT adapter folder (no adapter_config.json)")
        if name in self.paths:
            raise InvalidInputError(f"an adapter named '{name}' is already loaded; unload it first")
        from peft import PeftModel

        if not self.paths:
            self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name)
        else:
            self.model.load_adapter(str(path), adapter_name=name)
        self.model.eval()
        self.paths[name] = path
        if activate:
            self.activate(name)
        elif self.active is None:
            self.activate(None)

    def activate(self, name: str | None) -> None:
        """Make ``name`` the active adapter; None runs the base model."""
        if name is not None:
            self._require(name)
            self.model.set_adapter(name)
        self.active = name

    def unload(self, name: str) -> None:
        """Remove adapter ``name``; the base model runs when it was the active one."""
        self._require(name)
        del self.paths[name]
        if not self.paths:
            self.model = self.model.unload()
            self.active = None
            return
        if self.active == name:
            remaining = next(iter(self.paths))
            self.model.set_adapter(remaining)  # peft cannot delete the active adapter
            self.model.delete_adapter(name)
            self.active = None
        else:
            self.model.delete_adapter(name)

    @contextlib.contextmanager
    def applied(self) -> Iterator[Any]:
        """Yield the model to call, with adapters disabled when none is active."""
        if self.paths and self.active is None:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.model

    def _require(self, name: str) -> None:
        if name not in self.paths:
            loaded = ", ".join(self.paths) or "none"
            raise NotFoundError(f"adapter '{name}' is not loaded; loaded adapters: {loaded}")
