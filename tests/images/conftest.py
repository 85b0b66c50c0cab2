"""Fixtures for the image tests: images built once per session (warm builds are a hash check).

Cold, the first run builds the Debian bases and every image: about 10 minutes on 2 cores.
"""

from __future__ import annotations

import os
import shutil

import pytest

import images

TOOLS = ("buildah", "runc", "ctr", "containerd")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/images/" in item.nodeid:
            item.add_marker(pytest.mark.images)


@pytest.fixture(scope="session", autouse=True)
def image_tools() -> None:
    """The tools are prerequisites (README; .ci/run installs them): say which one is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(f"the image tests need {', '.join(missing)}: see README, Prerequisites")
    if os.geteuid() != 0:
        raise RuntimeError("the image tests need root (buildah's storage, runc)")


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
