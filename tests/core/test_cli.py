import subprocess
import sys

import bfrbench
from bfrbench.cli import main


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert "bfrbench" in out and "COMMAND" in out


def test_version_and_lazy_api():
    res = subprocess.run([sys.executable, "-m", "bfrbench", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and bfrbench.__version__ in res.stdout
    assert "build_testset" in dir(bfrbench)


def test_public_all_is_importable():
    import bfrbench.errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), Exception)
