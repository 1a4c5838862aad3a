"""The TypedDicts behind ``**options`` name exactly the keywords the functions take."""

from __future__ import annotations

import dataclasses
import inspect

from cuprum import ContextKwargs, ExecutionContext, Pipeline, RunKwargs, SafeCmd
from cuprum._kwargs import ConcurrentKwargs, OutputKwargs


def keywords(function: object) -> set[str]:
    parameters = inspect.signature(function).parameters.values()  # type: ignore[arg-type]
    return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}


def test_run_kwargs_are_the_keywords_of_safecmd_run() -> None:
    assert set(RunKwargs.__optional_keys__) == keywords(SafeCmd.run)
    assert not RunKwargs.__required_keys__


def test_output_kwargs_are_what_pipeline_run_takes_through_options() -> None:
    assert set(OutputKwargs.__optional_keys__) == keywords(SafeCmd.run) - keywords(Pipeline.run)


def test_concurrent_kwargs_leave_out_capture_and_check() -> None:
    assert set(ConcurrentKwargs.__optional_keys__) == keywords(SafeCmd.run) - {"capture", "check"}


def test_context_kwargs_are_the_fields_of_execution_context() -> None:
    fields = {field.name for field in dataclasses.fields(ExecutionContext)}
    assert set(ContextKwargs.__optional_keys__) == fields
