"""CI's bootstraps (.ci/docker-setup.sh, .ci/arm64.sh) take the Debian mirror from the machine's
own apt sources (.ci/debian-mirror.sh), in either of apt's formats, never from a host name written
into a script."""

import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "debian-mirror.sh"


def mirror(root: Path, suite: str = "bookworm") -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), suite],
        capture_output=True,
        text=True,
        env={"APT_SOURCES_ROOT": str(root), "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def apt(tmp_path) -> Path:
    (tmp_path / "sources.list.d").mkdir()
    return tmp_path


def test_deb822_stanza_serving_the_suite_is_used(apt):
    (apt / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb-src deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main"
    )
    done = mirror(apt)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "http://mirror.example/debian"


def test_one_line_format_with_options_and_a_disabled_file_ignored(apt):
    (apt / "sources.list.d" / "old.list.disabled-by-farm").write_text(
        "deb http://disabled.example/debian bookworm main\n"
    )
    (apt / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://line.example/debian bookworm main\n"
    )
    assert mirror(apt).stdout.strip() == "http://line.example/debian"


def test_no_source_for_the_suite_fails_with_a_reason(apt):
    (apt / "sources.list").write_text("deb http://line.example/debian bookworm main\n")
    done = mirror(apt, "trixie")
    assert done.returncode == 1 and "no apt source for suite trixie" in done.stderr
