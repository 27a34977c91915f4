import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_env_example_lists_every_variable_the_settings_read():
    code = "".join(p.read_text() for p in (ROOT / "config" / "settings").glob("*.py"))
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', code))
    documented = set(re.findall(r"^#?\s*([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no env reads found: the pattern is wrong"
    assert read <= documented, f"undocumented: {sorted(read - documented)}"
