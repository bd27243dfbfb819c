"""The backend implements the whole ``JobStore`` protocol, with the protocol's signatures."""

from __future__ import annotations

import inspect

from bot.jobs.ports import JobStore

# The protocol's methods, read from the protocol itself: a method added there is checked here at once.
METHODS = sorted(name for name, _ in inspect.getmembers(JobStore, inspect.isfunction) if not name.startswith("_"))


def _shape(parameter: inspect.Parameter) -> tuple[str, inspect._ParameterKind, bool]:
    return parameter.name, parameter.kind, parameter.default is not inspect.Parameter.empty


async def test_the_protocol_is_read_whole() -> None:
    # A sanity check of the introspection itself: it finds the methods the core calls most.
    assert {"insert_job", "claim_submittable", "admit_job", "get_or_create_meta", "close"} <= set(METHODS)
    assert len(METHODS) >= 35


async def test_every_protocol_method_exists_with_a_matching_signature(store: JobStore) -> None:
    # Argument names, kinds (positional, keyword-only) and which ones are optional must match, so the core
    # may call any backend the same way; the types are checked by mypy where open_store returns the protocol.
    for name in METHODS:
        method = getattr(store, name, None)
        assert method is not None, f"{type(store).__name__} lacks {name}"
        assert inspect.iscoroutinefunction(method), f"{name} is not a coroutine function"
        wanted = inspect.signature(getattr(JobStore, name))
        found = inspect.signature(getattr(type(store), name))
        assert [_shape(p) for p in found.parameters.values()] == [_shape(p) for p in wanted.parameters.values()], name
        for parameter in wanted.parameters.values():
            # A default the protocol spells out (not "...") is part of the contract: the same value.
            if parameter.default not in (inspect.Parameter.empty, Ellipsis):
                assert found.parameters[parameter.name].default == parameter.default, (name, parameter.name)
