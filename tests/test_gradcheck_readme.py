"""The README's wrong-Swish example is what the code prints today, and its figure exists."""
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("gradcheck_example",
                                                  ROOT / "docs" / "gradcheck_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_example_block_is_what_gradcheck_prints():
    script = _script()
    readme = (ROOT / "README.md").read_text()
    block = script.readme_block(readme)
    assert "manual − autodiff = x·σ(x)²" in block      # the diagnosis is shown, not only a FAIL
    assert block == script.example_block(), "run `make docs` to regenerate the README example"


def test_readme_figure_is_committed_and_linked():
    script = _script()
    figure = ROOT / script.FIGURE
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"]({script.FIGURE})" in (ROOT / "README.md").read_text()
