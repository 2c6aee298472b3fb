"""A stand-in for ComfyUI's V3 node API (``comfy_api.latest.io``) when no ComfyUI is installed.

It covers exactly the declaration surface this pack uses, with the same names and signatures, so the node
classes import, declare their schema and execute in the standalone tests and in scripts; it validates a
schema the way ComfyUI's ``Schema.validate`` does (unique input and output ids). Inside ComfyUI the real
API is used instead (see ``host.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Input:
    def __init__(self, id: str, display_name: str | None = None, optional: bool = False, tooltip: str | None = None, **options: Any):
        self.id = id
        self.display_name = display_name
        self.optional = optional
        self.tooltip = tooltip
        self.options = options

    io_type = "*"


class Output:
    def __init__(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None, is_output_list: bool = False):
        self.id = id
        self.display_name = display_name
        self.tooltip = tooltip
        self.is_output_list = is_output_list

    io_type = "*"


def Custom(io_type: str) -> type:
    """A socket type: ``Custom("X").Input(...)`` and ``Custom("X").Output(...)``, like ComfyUI's."""
    return type(io_type, (), {"io_type": io_type, "Input": type("Input", (Input,), {"io_type": io_type}), "Output": type("Output", (Output,), {"io_type": io_type})})


Int = Custom("INT")
Float = Custom("FLOAT")
String = Custom("STRING")
Boolean = Custom("BOOLEAN")
Combo = Custom("COMBO")
Image = Custom("IMAGE")
Audio = Custom("AUDIO")
Video = Custom("VIDEO")
Latent = Custom("LATENT")


class Hidden(str, Enum):
    """Values ComfyUI passes to a node without a socket or widget; read them as ``cls.hidden.<name>``."""

    unique_id = "UNIQUE_ID"
    prompt = "PROMPT"
    extra_pnginfo = "EXTRA_PNGINFO"
    dynprompt = "DYNPROMPT"


class HiddenHolder:
    """The hidden values of one execution; a name that was not given reads as None, as in ComfyUI."""

    def __init__(self, **values: Any):
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> None:
        return None


@dataclass
class Schema:
    node_id: str
    display_name: str | None = None
    category: str = "sd"
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    hidden: list[Hidden] = field(default_factory=list)
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def validate(self) -> None:
        inputs = [i.id for i in self.inputs]
        outputs = [o.id for o in self.outputs if o.id is not None]
        issues = []
        if len(set(inputs)) != len(inputs):
            issues.append(f"input ids must be unique, got {inputs}")
        if len(set(outputs)) != len(outputs):
            issues.append(f"output ids must be unique, got {outputs}")
        if set(inputs) & set(outputs):
            issues.append(f"ids must be unique between inputs and outputs, got {sorted(set(inputs) & set(outputs))}")
        if issues:
            raise ValueError("\n".join(issues))


class NodeOutput:
    def __init__(self, *args: Any, ui: dict | None = None, expand: dict | None = None, block_execution: str | None = None):
        self.args = args
        self.ui = ui
        self.expand = expand
        self.block_execution = block_execution

    @property
    def result(self):
        return self.args if self.args else None

    def __getitem__(self, index: int) -> Any:
        return self.args[index]


class ComfyNode:
    hidden: HiddenHolder | None = None
    """Set by the executor on the per-execution clone of the class (see ``tests/test_workflows.py``)."""

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def GET_SCHEMA(cls) -> Schema:
        schema = cls.define_schema()
        schema.validate()
        return schema


class ComfyExtension:
    async def on_load(self) -> None:
        return None

    async def get_node_list(self) -> list[type[ComfyNode]]:
        raise NotImplementedError
