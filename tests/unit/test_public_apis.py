"""The product runs on Dagster's and dagster-celery's public APIs (issue 24), except the one
adapter module that keeps the Celery loop from hanging (dp_assets/celery_adapter.py): this
fails when a private import appears anywhere else, and when the internals the adapter
relies on change shape (a dagster-celery upgrade: re-check the adapter, then this test)."""

import ast
import inspect
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("dp_core", "dp_features", "dp_resources", "io_managers", "dp_assets", "dp_cli")
ADAPTER = ROOT / "dp_assets" / "celery_adapter.py"
# the worker app is the documented entry point (`celery -A dagster_celery.app worker`)
DAGSTER_CELERY_PUBLIC = {"dagster_celery", "dagster_celery.tags", "dagster_celery.app"}


def private_imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        modules = (
            [alias.name for alias in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for module in modules:
            private_dagster = module.startswith("dagster._")
            celery_internal = (
                module.startswith("dagster_celery") and module not in DAGSTER_CELERY_PUBLIC
            )
            private_name = (
                isinstance(node, ast.ImportFrom)
                and any(alias.name.startswith("_") for alias in node.names)
                and module.startswith(("dagster", "dagster_celery"))
            )
            if private_dagster or celery_internal or private_name:
                names.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    return names


def test_no_private_dagster_import_outside_the_celery_adapter():
    found = [
        name
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != ADAPTER
        for name in private_imports(path)
    ]
    assert found == [], found


def test_the_scanner_finds_a_private_import(tmp_path):
    sample = ROOT / "dp_assets" / "_probe_private_import.py"
    sample.write_text("from dagster._core.events import DagsterEvent\n")
    try:
        assert private_imports(sample) != []
    finally:
        sample.unlink()


def test_the_internals_the_celery_adapter_uses_keep_their_shape():
    from dagster._core.execution.plan.active import ActiveExecution
    from dagster_celery.core_execution_loop import _get_step_priority
    from dagster_celery.executor import CeleryExecutor, _submit_task

    assert list(inspect.signature(_submit_task).parameters) == [
        "app",
        "plan_context",
        "step",
        "queue",
        "priority",
        "known_state",
    ]
    assert list(inspect.signature(_get_step_priority).parameters) == [
        "context",
        "step",
        "task_default_priority",
    ]
    for method in (
        "handle_event",
        "verify_complete",
        "plan_events_iterator",
        "get_steps_to_execute",
        "mark_abandoned",
        "mark_interrupted",
        "check_for_interrupts",
        "get_known_state",
        "get_step_by_key",
    ):
        assert callable(getattr(ActiveExecution, method)), method
    assert callable(CeleryExecutor.app_args)
    import dp_assets.celery_adapter as adapter

    assert issubclass(adapter.GuardedCeleryExecutor, CeleryExecutor)
