"""Static checks of the set-up files: environment.yml agrees with the pip requirements, and the README,
the Makefile and CI agree on the commands."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENTS = ROOT / "requirements"
REQUIREMENT_FILES = ("base.txt", "test.txt")
NOT_COMPARED = {"python", "pip"}

# "name", "name==1.2", "name[extra]==1.2; marker"
PIP_SPEC = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?:==\s*([^\s;,]+))?.*")
# conda match specs: "name", "name=1.2", "name==1.2", "name 1.2", "channel::name==1.2"
CONDA_SPEC = re.compile(r"(?:[\w.-]+::)?([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:(?:==?|\s)\s*([^\s,|*]+))?.*")


def normalize(name: str) -> str:
    """Package names compare case-insensitively, with runs of '-', '_' and '.' the same (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_requirements(path: Path, seen: set[Path] | None = None) -> dict[str, str | None]:
    """{normalized name: pinned version or None} from a pip requirements file, following `-r` includes."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        return {}
    seen.add(path)
    pins: dict[str, str | None] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        include = re.fullmatch(r"(?:-r|--requirement)\s*(\S+)", line)
        if include:
            pins.update(read_requirements(path.parent / include.group(1), seen))
            continue
        if line.startswith("-"):  # -e ., --index-url, ...: not a pin
            continue
        match = PIP_SPEC.fullmatch(line)
        assert match, f"{path.name}: cannot parse requirement line {raw!r}"
        pins[normalize(match.group(1))] = match.group(2)
    return pins


def read_environment(path: Path) -> tuple[dict[str, str | None], list[str]]:
    """({normalized name: version or None}, [names listed twice]) from a conda environment file,
    conda dependencies and its pip section together."""
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    pins: dict[str, str | None] = {}
    duplicates: list[str] = []

    def add(name: str, version: str | None) -> None:
        key = normalize(name)
        if key in pins:
            duplicates.append(key)
        pins[key] = version

    for dep in env.get("dependencies", []):
        if isinstance(dep, dict):
            for spec in dep.get("pip", []):
                spec = str(spec).strip()
                if spec.startswith("-"):  # -e ., -r ...
                    continue
                match = PIP_SPEC.fullmatch(spec)
                assert match, f"environment.yml: cannot parse pip entry {spec!r}"
                add(match.group(1), match.group(2))
            continue
        spec = str(dep).strip()
        match = CONDA_SPEC.fullmatch(spec)
        assert match, f"environment.yml: cannot parse dependency {spec!r}"
        add(match.group(1), match.group(2))
    return pins, duplicates


def test_requirements_are_pinned_exactly():
    for name in REQUIREMENT_FILES:
        pins = read_requirements(REQUIREMENTS / name)
        unpinned = sorted(pkg for pkg, version in pins.items() if version is None)
        assert not unpinned, f"requirements/{name}: not pinned with '==': {', '.join(unpinned)}"


def test_environment_yml_matches_requirements():
    wanted: dict[str, str | None] = {}
    for name in REQUIREMENT_FILES:
        wanted.update(read_requirements(REQUIREMENTS / name))
    env, duplicates = read_environment(ROOT / "environment.yml")
    env_doc = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    for key in NOT_COMPARED:
        wanted.pop(key, None)
        env.pop(key, None)

    problems = []
    for key in sorted(set(wanted) - set(env)):
        problems.append(f"  only in requirements: {key}=={wanted[key]}")
    for key in sorted(set(env) - set(wanted)):
        problems.append(f"  only in environment.yml: {key}{'==' + env[key] if env[key] else ''}")
    for key in sorted(set(wanted) & set(env)):
        if wanted[key] != env[key]:
            has = env[key] or "no pin"
            problems.append(f"  {key}: requirements pin {wanted[key]}, environment.yml has {has}")
    for key in sorted(set(duplicates)):
        problems.append(f"  listed more than once in environment.yml: {key}")
    assert env_doc.get("channels") == ["conda-forge"], "environment.yml: channels must be [conda-forge] only"
    assert not problems, "environment.yml and requirements/*.txt differ:\n" + "\n".join(problems)


def test_environment_yml_installs_okcore():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    pip_sections = [dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep]
    assert any("-e ." in section for section in pip_sections), "environment.yml: pip section lacks '-e .'"
    assert env.get("name") == "okcore"


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for command in ("make lab", "make test"):
        assert command in readme, f"README.md does not mention `{command}`"


def test_ci_runs_the_readme_test_command():
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    code = [line.split("#", 1)[0].strip() for line in lines]
    calls = [line for line in code if re.fullmatch(r"(?:exec\s+)?make\s+test\b.*", line)]
    assert calls, ".ci/run does not call `make test`"


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*)\s*:(?!=)", makefile, flags=re.MULTILINE))
    missing = {"lab", "test", "run", "execute", "bench", "clean"} - targets
    assert not missing, f"Makefile lacks targets: {', '.join(sorted(missing))}"
