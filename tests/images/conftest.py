"""Fixtures for the image tests: images built once per session (warm builds are a hash check).

Cold, the first run builds the Debian bases and every image: about 10 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil

import pytest

import images

TOOLS = ("buildah", "runc", "ctr", "containerd")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "images: builds the project images with buildah and runs them with runc"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    reason = None
    if missing:
        reason = f"needs {', '.join(missing)}"
    elif os.geteuid() != 0:
        reason = "needs root (buildah storage, runc)"
    for item in items:
        if "tests/images/" not in item.nodeid:
            continue
        item.add_marker(pytest.mark.images)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def backend_image() -> str:
    return images.build("backend")


@pytest.fixture(scope="session")
def frontend_image() -> str:
    return images.build("frontend")


@pytest.fixture(scope="session")
def operator_image() -> str:
    return images.build("operator")


@pytest.fixture(scope="session")
def postgres_image() -> str:
    return images.build("postgres")
