"""The backend and operator images run their code as uid 10001 on the local Python base."""

from __future__ import annotations

from pathlib import Path

import images
from tests.images import runc

# Settings are validated at import; these are valid and point nowhere (nothing connects).
BACKEND_ENV = {
    "DATABASE_URL": "postgresql+asyncpg://dimini:pw@127.0.0.1:1/dimini",
    "SECRET_KEY": "x" * 64,
}
BACKEND_PROBE = (
    "import os, sys, app.main, app.migrate; "
    "print(os.getuid(), os.getgid(), sys.version_info[:2], app.main.__file__)"
)


def _backend_python(image: str, bundle: Path, code: str) -> str:
    """`python -c code` in the backend image as uid 10001; its output (it must exit 0)."""
    with runc.run(
        image, bundle, args=["python", "-c", code], user=(10001, 10001), env=BACKEND_ENV
    ) as container:
        status = container.wait(timeout=60)
        out = container.output()
    assert status == 0, out
    return out


def test_backend_imports_its_app_as_uid_10001(backend_image: str, tmp_path: Path) -> None:
    out = _backend_python(backend_image, tmp_path, BACKEND_PROBE)
    assert "10001 10001 (3, 11) /app/app/main.py" in out


# Every module of the app that a start imports, whose bytecode is not in the image.
UNCOMPILED_PROBE = (
    "import os, sys, app.main, app.migrate; "
    "print('uncompiled:', sorted(m.__name__ for m in list(sys.modules.values()) "
    "if (getattr(m, '__file__', None) or '').startswith('/app/') "
    "and not os.path.exists(m.__cached__)))"
)


def test_backend_image_ships_the_apps_bytecode(backend_image: str, tmp_path: Path) -> None:
    """Each worker and each migration Job would otherwise compile the app at start (the root
    filesystem is read-only, and PYTHONDONTWRITEBYTECODE is set)."""
    assert "uncompiled: []" in _backend_python(backend_image, tmp_path, UNCOMPILED_PROBE)


def test_backend_image_runs_alembic_from_its_working_dir(
    backend_image: str, tmp_path: Path
) -> None:
    with runc.run(
        backend_image, tmp_path, args=["alembic", "heads"], user=(10001, 10001)
    ) as container:
        code = container.wait(timeout=60)
        out = container.output()
    assert code == 0, out
    assert "(head)" in out


def test_backend_with_an_extra_migration_is_another_image(
    backend_image: str, tmp_path: Path
) -> None:
    extra = {"alembic/versions/9999_e2e_probe.py": "# added by tests/images\nMARKER = 42\n"}
    upgraded = images.build("backend", extra_files=extra)
    assert upgraded != backend_image
    assert upgraded.startswith("localhost/dimini/backend:")
    assert images.build("backend", extra_files=extra) == upgraded  # same inputs, same tag
    probe = "import importlib.util as u, sys; print('MARKER', open(sys.argv[1]).read().count('42'))"
    with runc.run(
        upgraded,
        tmp_path,
        args=["python", "-c", probe, "/app/alembic/versions/9999_e2e_probe.py"],
        user=(10001, 10001),
    ) as container:
        code = container.wait(timeout=60)
        out = container.output()
    assert code == 0, out
    assert "MARKER 1" in out


def test_operator_image_imports_the_operator_as_uid_10001(
    operator_image: str, tmp_path: Path
) -> None:
    probe = "import os, dimini_operator, kopf; print('uid', os.getuid())"
    with runc.run(
        operator_image, tmp_path, args=["python", "-c", probe], user=(10001, 10001)
    ) as container:
        code = container.wait(timeout=60)
        out = container.output()
    assert code == 0, out
    assert "uid 10001" in out
