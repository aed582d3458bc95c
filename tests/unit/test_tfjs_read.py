"""How a model's output is read back: at once where TF.js's backend reads synchronously, awaited
where its values come from the GPU (moodlens.browser.tfjs.read_values)."""

from __future__ import annotations

import asyncio

import pytest

from moodlens.browser import tfjs
from moodlens.browser._compat import JsException
from moodlens.browser._js import JsError


class Tensor:
    def __init__(self, fails: str | None = None):
        self.fails, self.calls = fails, []

    def dataSync(self):  # noqa: N802 - TF.js's name
        self.calls.append("dataSync")
        if self.fails:
            raise JsException("Error", self.fails)
        return [0.25, 0.75]


@pytest.fixture
def awaited(monkeypatch):
    """What went through ``settle`` (an awaited call), and the values it answers with."""
    calls = []

    async def settle(target, method, *args):
        calls.append(method)
        return [0.5, 0.5]

    monkeypatch.setattr(tfjs, "settle", settle)
    return calls


@pytest.mark.parametrize("backend", ["wasm", "cpu"])
def test_wasm_and_cpu_outputs_are_read_at_once(monkeypatch, awaited, backend):
    monkeypatch.setattr(tfjs, "backend", lambda: backend)
    tensor = Tensor()
    assert asyncio.run(tfjs.read_values(tensor)) == [0.25, 0.75]
    assert (tensor.calls, awaited) == (["dataSync"], [])


def test_webgl_outputs_are_awaited(monkeypatch, awaited):
    monkeypatch.setattr(tfjs, "backend", lambda: "webgl")
    tensor = Tensor()
    assert asyncio.run(tfjs.read_values(tensor)) == [0.5, 0.5]
    assert (tensor.calls, awaited) == ([], ["data"])


def test_a_failed_read_raises_the_same_error_either_way(monkeypatch, awaited):
    """A synchronous throw arrives as the JsError a rejected data() would have been."""
    monkeypatch.setattr(tfjs, "backend", lambda: "wasm")
    with pytest.raises(JsError) as failed:
        asyncio.run(tfjs.read_values(Tensor(fails="Tensor is disposed.")))
    assert (failed.value.name, failed.value.message) == ("Error", "Tensor is disposed.")
